// rs's keeper (process mode): the small supervisor above rs that `mkctl up` leaves
// running. It runs rs as its child and starts it again when it dies (100 ms, doubling to
// 5 s, back to 100 ms after 10 s up): rs then adopts the services still serving. SIGUSR2
// is a hand-over (mkctl start rs): rs is asked to leave the services running and a new rs
// starts at once. SIGTERM (mkctl down) stops rs, which stops the services, then the keeper.
// rs's pid is kept in <run dir>/keeper-pids.json for mkctl.
import { ExitStatus } from "#base/errors.ts";
import { join } from "node:path";
import { createLogger, systemClock, type Timer } from "#libsys";
import { filePidStore, ProcessBackend, type RunSpec } from "#rs";

const MIN_MS = 100;
const MAX_MS = 5000;
const HEALTHY_MS = 10_000;
/** rs stops every service (each SIGTERM, then SIGKILL after 3 s) before it exits. */
const RS_STOP_MS = 15_000;

const log = createLogger("rs-keeper");
const runDir = process.env.MK_RUN_DIR;
const command = process.env.MK_RS_COMMAND;
if (!runDir || !command) {
  log.fatal("MK_RUN_DIR and MK_RS_COMMAND must be set (mkctl up starts the keeper)");
  process.exit(ExitStatus.CONFIG);
}
const backend = new ProcessBackend(filePidStore(join(runDir, "keeper-pids.json")));
const { MK_RS_COMMAND: _, ...env } = process.env as Record<string, string>;
const spec: RunSpec = {
  name: "rs",
  command: JSON.parse(command) as string[],
  cwd: process.cwd(),
  env,
  logFile: join(runDir, "logs", "rs.log"),
};

let stopping = false;
let handingOver = false;
let delay = MIN_MS;
let startedAt = 0;
let timer: Timer | undefined;

async function start(why: string): Promise<void> {
  if (stopping) return;
  try {
    const pid = await backend.start(spec);
    startedAt = systemClock.now();
    log.info({ child: pid, why }, "rs started (pid %d): %s", pid, why);
  } catch (e) {
    log.error({ err: (e as Error).message }, "rs could not start; trying again in %d ms", delay);
    timer = systemClock.setTimeout(() => void start("retry"), delay);
    delay = Math.min(delay * 2, MAX_MS);
  }
}

backend.onExit((e) => {
  if (stopping) return;
  if (handingOver) {
    handingOver = false;
    void start("hand-over");
    return;
  }
  if (systemClock.now() - startedAt >= HEALTHY_MS) delay = MIN_MS;
  log.warn(
    { code: e.code, signal: e.signal, delayMs: delay },
    "rs died (%s): starting it again in %d ms",
    e.signal ?? `exit ${e.code}`,
    delay,
  );
  timer = systemClock.setTimeout(() => void start(`after ${e.signal ?? `exit ${e.code}`}`), delay);
  delay = Math.min(delay * 2, MAX_MS);
});

process.on("SIGUSR2", () => {
  const pid = backend.pid("rs");
  if (!pid) return void start("hand-over, none running");
  handingOver = true;
  process.kill(pid, "SIGUSR2");
});
const stop = () => {
  if (stopping) return;
  stopping = true;
  timer?.cancel();
  backend.stop("rs", RS_STOP_MS).finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await start("boot");
// The keeper lives as long as rs must be kept.
setInterval(() => undefined, 1 << 30);
