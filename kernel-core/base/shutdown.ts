// Graceful shutdown on SIGTERM/SIGINT, the same for every mkos process: stop taking work,
// finish what is in flight, drain NATS (the steps in `stop`), exit 0. If that has not
// happened within 2 s the process exits 1: a container's stop never waits for SIGKILL.
import { ExitStatus } from "./errors.ts";
import type { Logger } from "./log.ts";

const SHUTDOWN_MS = 2000;

/** budgetMs: how long `stop` may take before the process exits 1 anyway. */
export function onShutdown(log: Logger, stop: () => Promise<void>, budgetMs = SHUTDOWN_MS): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    setTimeout(() => process.exit(ExitStatus.FAILURE), budgetMs).unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(ExitStatus.FAILURE);
      },
    );
  };
  process.on("SIGTERM", () => handle("SIGTERM"));
  process.on("SIGINT", () => handle("SIGINT"));
}
