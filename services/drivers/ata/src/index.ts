// The ATA driver as a placement-neutral module: kernel-core imports `service` for
// placement kernel; src/main.ts runs it as its own process for placement user.
import { blockDriver } from "#libsys";
import { AtaDisk } from "./ata.ts";

const timeoutMs = Number(process.env.MK_ATA_TIMEOUT_MS ?? 5000);

export const service = blockDriver("ata", (sys) => new AtaDisk(sys, { timeoutMs }));
