// The tty driver as a placement-neutral module.
import { charDriver } from "#libsys";
import { SerialTty } from "./tty.ts";

export const service = charDriver("tty", (sys) => new SerialTty(sys));
