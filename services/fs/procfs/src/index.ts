// procfs as a placement-neutral module: kernel-core imports `service` for placement kernel;
// src/main.ts runs it as its own process.
import type { ServiceModule } from "#libsys";
import { Procfs } from "./procfs.ts";

export const service: ServiceModule = { label: "procfs", create: (sys) => new Procfs(sys).server() };
