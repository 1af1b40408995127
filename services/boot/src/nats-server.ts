// Finds the nats-server binary, and waits for a started one to be healthy.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
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
