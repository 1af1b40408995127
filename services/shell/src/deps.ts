// What the commands need of the running system, injected: the shell's own incarnation (for
// kernel calls and IPC), a file-system client and a block-device client that ride out
// restarts of vfs and ata, and a clock. main.ts builds them from the shell's connection;
// a test builds them from any client with the same privileges.
import { BdevClient, FsClient, type Clock, type Sys } from "#libsys";

export interface ShellDeps {
  readonly sys: Sys;
  readonly fs: FsClient;
  /** The ATA disk (dd if=/dev/ata). */
  readonly disk: BdevClient;
  readonly clock: Clock;
}

/** Waits for a restarted vfs or ata up to this long before a command fails (a person is waiting at the console). */
const RECOVERY_WAIT_MS = 20_000;

export function shellDeps(sys: Sys): ShellDeps {
  return {
    sys,
    fs: new FsClient(sys, { waitMs: RECOVERY_WAIT_MS, timeoutMs: 30_000 }),
    disk: new BdevClient(sys, "ata", { waitMs: RECOVERY_WAIT_MS, timeoutMs: 30_000 }),
    clock: sys.clock,
  };
}
