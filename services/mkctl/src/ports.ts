// Loopback ports for process mode: free ones asked of the OS, and ports named in the environment.
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

/** A port from the environment: undefined when unset, MK_ERR_BAD_ENV naming it when not 0-65535. */
export function portFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new LocalError("MK_ERR_BAD_ENV", `${name} must be a port, 0-65535 (0: any free one), got ${JSON.stringify(v)}`);
  return Number(v);
}
