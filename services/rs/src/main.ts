// rs as its own process (placement user; mkctl up starts it after kernel-core). Runs the
// services as its own children through the process backend; their pids are kept in
// <run dir>/rs-pids.json, so mkctl and a restarted rs find them. On SIGTERM it stops
// every service, the last started first, then itself.
import { join, resolve } from "node:path";
import { createLogger, exitStatus, loadCredential, loadSystemTable, LocalError, NatsTransport, onShutdown, startService } from "#libsys";
import { filePidStore, ProcessBackend } from "./process-backend.ts";
import { RS_LABEL, rsService } from "./rs.ts";

/** How long a shutdown may take: every service stopped (each SIGTERM, then SIGKILL after 3 s). */
const SHUTDOWN_BUDGET_MS = 15_000;

const log = createLogger(RS_LABEL);
try {
  const runDir = process.env.MK_RUN_DIR;
  if (!runDir) throw new LocalError("MK_ERR_BAD_ENV", "MK_RUN_DIR is not set: rs needs the run directory (credentials, logs, its pid file)");
  const table = loadSystemTable(process.env.MK_SYSTEM ?? "etc/system.yaml");
  const backend = new ProcessBackend(filePidStore(join(runDir, "rs-pids.json")));
  const env = { ...process.env } as Record<string, string>;
  const module = rsService({ table, backend, runDir, env, cwd: resolve(import.meta.dirname, "../../..") });
  const transport = await NatsTransport.connect(RS_LABEL, loadCredential());
  const running = await startService(module, transport, { log });
  onShutdown(running.sys.log, () => running.stop(), SHUTDOWN_BUDGET_MS);
} catch (e) {
  log.fatal({ err: e }, "rs could not start");
  process.exit(exitStatus(e));
}
