// rs as its own process (placement user). In process mode (mkctl up starts it after
// kernel-core) it runs the services as its own children through the process backend;
// their pids are kept in <run dir>/rs-pids.json, so mkctl and a restarted rs find them.
// In compose (MK_RS_BACKEND=docker) it drives the project's containers through the
// Docker Engine API. On SIGTERM it stops every service, the last started first, then
// itself (in compose: `docker compose stop rs` leaves the services to compose).
import { join, resolve } from "node:path";
import { createLogger, exitStatus, loadCredential, loadSystemTable, LocalError, NatsTransport, onShutdown, startService } from "#libsys";
import { DockerBackend } from "./docker-backend.ts";
import { filePidStore, jsonFileStore, ProcessBackend } from "./process-backend.ts";
import { RS_LABEL, rsService } from "./rs.ts";

/** How long a shutdown may take: every service stopped (each SIGTERM, then SIGKILL after 3 s). */
const SHUTDOWN_BUDGET_MS = 15_000;

const log = createLogger(RS_LABEL);
try {
  const docker = process.env.MK_RS_BACKEND === "docker";
  const runDir = process.env.MK_RUN_DIR ?? "";
  if (!docker && !runDir)
    throw new LocalError("MK_ERR_BAD_ENV", "MK_RUN_DIR is not set: rs needs the run directory (credentials, logs, its pid file)");
  const table = loadSystemTable(process.env.MK_SYSTEM ?? "etc/system.yaml");
  const backend = docker ? await DockerBackend.connect() : new ProcessBackend(filePidStore(join(runDir, "rs-pids.json")));
  const env = { ...process.env } as Record<string, string>;
  // In compose, stopping rs leaves the containers to compose (docker compose stop/down).
  // SIGUSR2 is a hand-over (mkctl start rs): this rs exits and leaves the services running
  // for the next one to adopt.
  let stopServices = !docker;
  process.on("SIGUSR2", () => {
    stopServices = false;
    process.kill(process.pid, "SIGTERM");
  });
  const intent = docker ? undefined : jsonFileStore<Record<string, string>>(join(runDir, "rs-intent.json"));
  const module = rsService({
    table,
    backend,
    runDir,
    env,
    cwd: resolve(import.meta.dirname, "../../.."),
    stopServicesOnExit: () => stopServices,
    intent,
  });
  const transport = await NatsTransport.connect(RS_LABEL, loadCredential());
  const running = await startService(module, transport, { log });
  onShutdown(running.sys.log, () => running.stop(), SHUTDOWN_BUDGET_MS);
} catch (e) {
  log.fatal({ err: e }, "rs could not start");
  process.exit(exitStatus(e));
}
