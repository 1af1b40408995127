// Graceful shutdown on SIGTERM/SIGINT, the same for every mkos process: stop taking work,
// finish what is in flight, drain NATS (the steps in `stop`), exit 0. If that has not
// happened within 2 s the process exits 1: a container's stop never waits for SIGKILL.
import type { Logger } from "./log.ts";

export const SHUTDOWN_MS = 2000;

export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    setTimeout(() => process.exit(1), SHUTDOWN_MS).unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handle("SIGTERM"));
  process.on("SIGINT", () => handle("SIGINT"));
}
