// Finds and starts a nats-server binary with the generated configuration.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, openSync } from "node:fs";
import { delimiter, join } from "node:path";
import { LocalError } from "#base/errors.ts";
import { WaitTimeoutError } from "#base/wait.ts";

export function findNatsServer(): string | undefined {
  if (process.env.MK_NATS_SERVER) return process.env.MK_NATS_SERVER;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];
  for (const d of dirs) {
    const p = join(d, "nats-server");
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function startNatsServer(config: string, logFile: string): ChildProcess {
  const bin = findNatsServer();
  if (!bin) throw new LocalError("MK_ERR_NO_NATS_SERVER", "nats-server not found on PATH (apt-get install nats-server, or set MK_NATS_SERVER)");
  const log = openSync(logFile, "a");
  const child = spawn(bin, ["-c", config], { stdio: ["ignore", log, log], detached: true });
  child.unref();
  return child;
}

/** Waits for the monitoring endpoint to answer /healthz. */
export async function waitNatsHealthy(monitorPort: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${monitorPort}/healthz`);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new WaitTimeoutError(`nats-server healthy at http://127.0.0.1:${monitorPort}/healthz`, ms, last);
}
