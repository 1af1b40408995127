// The serial console seen from the host side of the line (`console: true`): what the
// UART transmits arrives on mk.console.out, and bytes published on mk.console.in arrive
// in its receive buffer as if typed. mkctl console and the dashboard's terminal use it.
import { MkError, Subjects } from "#abi";
import type { Sys } from "./sys.ts";

/** Bytes taken per write: the emulator takes at most this much from one message. */
const CONSOLE_CHUNK = 4096;

export interface ConsoleLine {
  /** Sends bytes to the UART, in chunks the emulator takes whole. */
  write(bytes: Uint8Array): void;
  stop(): void;
}

/** Attaches to the console: onOutput gets every byte the UART sends from now on. */
export async function attachConsole(sys: Sys, onOutput: (bytes: Uint8Array) => void): Promise<ConsoleLine> {
  const t = sys.transport;
  if (!t.stream || !t.announce) throw new MkError("ENOSYS", "the console is reached over NATS (user placement) only");
  const announce = t.announce.bind(t);
  const sub = await t.stream(Subjects.consoleOut, (data) => onOutput(data));
  return {
    write(bytes: Uint8Array): void {
      for (let off = 0; off < bytes.length; off += CONSOLE_CHUNK) announce(Subjects.consoleIn, bytes.subarray(off, off + CONSOLE_CHUNK));
    },
    stop: () => sub.stop(),
  };
}
