// Loopback ports for process mode: free ones asked of the OS, and a wanted one taken when
// nothing else listens on it (a compose stack beside us publishes 7700 and 8080).
import { createServer } from "node:net";
import { LocalError } from "#base/errors.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Can this process listen on 127.0.0.1:port now (nothing else on it, and allowed)? */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * The wanted port when it is free, else a free one (0 wants any). Checked, not held: a
 * process that takes it in between makes the part that should listen fail at start-up.
 */
export async function takePort(wanted: number): Promise<{ port: number; wanted: number }> {
  return { port: wanted !== 0 && (await portFree(wanted)) ? wanted : await freePort(), wanted };
}

/** A port from the environment: undefined when unset, MK_ERR_BAD_ENV naming it when not 0-65535. */
export function portFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
    throw new LocalError("MK_ERR_BAD_ENV", `${name} must be a port, 0-65535 (0: any free one), got ${JSON.stringify(v)}`);
  return Number(v);
}
