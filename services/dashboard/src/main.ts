// The dashboard's process entry: registers as the `dashboard` service, serves the page
// and its interface on MK_DASHBOARD_HOST:MKOS_DASHBOARD_PORT (127.0.0.1:8080 unless told;
// a port in use falls back to a free one, said in the log; compose sets 8080 inside the
// container and publishes the user's MKOS_DASHBOARD_PORT), and prints the URL with the
// token changes need, as Jupyter does. The token is MK_DASHBOARD_TOKEN, else the one kept
// in the run directory (so a restarted dashboard keeps it), else a new random one.
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MkError } from "#abi";
import { createLogger, exitStatus, loadCredential, loadSystemTable, NatsTransport, onShutdown, startService, systemClock } from "#libsys";
import { Dashboard } from "./dashboard.ts";
import { Experiments } from "./experiments.ts";
import { buildDashboardHttp } from "./http.ts";
import { Model } from "./model.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const label = process.env.MK_LABEL ?? "dashboard";
const log = createLogger(label);

/** A directory only this user may use (the token is kept there): made 0700, refused when someone else's or a link. */
function ownDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new MkError("EACCES", `${dir} is not a directory of this user's alone: set MK_RUN_DIR to one`);
  }
  return dir;
}

function tokenOf(runDir: string): string {
  const given = process.env.MK_DASHBOARD_TOKEN;
  if (given !== undefined && given !== "") {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(given)) throw new MkError("EINVAL", "MK_DASHBOARD_TOKEN must be 16-128 letters, digits, - or _");
    return given;
  }
  const file = join(runDir, "dashboard.token");
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (/^[A-Za-z0-9_-]{16,128}$/.test(kept)) return kept;
  }
  const fresh = randomBytes(18).toString("base64url");
  mkdirSync(runDir, { recursive: true });
  writeFileSync(file, `${fresh}\n`, { mode: 0o600 });
  return fresh;
}

/** MKOS_DASHBOARD_PORT: 8080 when unset, 0 for any free port. */
function portOf(given: string | undefined): number {
  if (given === undefined || given === "") return 8080;
  if (!/^\d{1,5}$/.test(given) || Number(given) > 65535)
    throw new MkError("EINVAL", `MKOS_DASHBOARD_PORT must be a port, 0-65535, got ${JSON.stringify(given)}`);
  return Number(given);
}

async function main(): Promise<void> {
  const table = loadSystemTable(process.env.MK_SYSTEM ?? join(ROOT, "etc/system.yaml"));
  const runDir = process.env.MK_RUN_DIR || ownDir(join(tmpdir(), `mkos-dashboard-${process.getuid?.() ?? 0}`));
  const token = tokenOf(runDir);
  const model = new Model(table, systemClock);
  const dash = new Dashboard(table, model);
  const transport = await NatsTransport.connect(label, loadCredential());
  const running = await startService(dash.module(), transport, { log });
  const experiments = new Experiments({ dir: join(ROOT, "experiments"), table, model, client: () => running });
  const host = process.env.MK_DASHBOARD_HOST ?? "127.0.0.1";
  const hosts = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    ...(process.env.MK_DASHBOARD_HOSTS ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  ];
  if (host !== "0.0.0.0") hosts.push(host);
  if (process.env.MK_DASHBOARD_URL) hosts.push(new URL(process.env.MK_DASHBOARD_URL).hostname);
  const { app, broadcast } = await buildDashboardHttp({
    model,
    actions: dash.actions!,
    console: dash.console(),
    token,
    clock: systemClock,
    log,
    experiments,
    hosts,
    dist: process.env.MK_DASHBOARD_DIST ?? join(ROOT, "services/dashboard/web/dist"),
  });
  experiments.onEvent = (e) => broadcast("experiment", e);
  const wanted = portOf(process.env.MKOS_DASHBOARD_PORT);
  try {
    await app.listen({ host, port: wanted });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    await app.listen({ host, port: 0 });
    log.warn({ wanted }, "port %d is in use: the dashboard listens on a free one instead", wanted);
  }
  const port = (app.server.address() as { port: number }).port;
  // What the user opens: compose publishes the container's port on the host's loopback.
  const base = process.env.MK_DASHBOARD_URL ?? `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/`;
  const url = `${base}?token=${token}`;
  try {
    // For mkctl up, which prints the URL; a dashboard that cannot write it still serves.
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, "dashboard.json"), `${JSON.stringify({ url, base, port, wanted, pid: process.pid })}\n`, { mode: 0o600 });
  } catch (e) {
    log.warn({ err: (e as Error).message, runDir }, "dashboard.json not written");
  }
  log.info({ url: base, port }, "dashboard on %s", url);

  onShutdown(log, async () => {
    await app.close();
    dash.stop();
    await running.stop();
  });
}

main().catch((e) => {
  log.fatal({ err: e }, "dashboard failed");
  process.exit(exitStatus(e));
});
