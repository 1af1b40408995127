// Which Docker Compose this machine has: the v2 plugin (`docker compose`) or the v1
// standalone executable (`docker-compose`, all our CI machines have). v1 names
// containers <project>_<service>_1, v2 <project>-<service>-1.
import { execFileSync } from "node:child_process";

export interface ComposeCli {
  version: 1 | 2;
  /** argv prefix: ["docker", "compose"] or ["docker-compose"] */
  argv: string[];
  containerName(project: string, service: string): string;
}

function works(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function detectCompose(): ComposeCli {
  if (works("docker", ["compose", "version"])) {
    return { version: 2, argv: ["docker", "compose"], containerName: (p, s) => `${p}-${s}-1` };
  }
  if (works("docker-compose", ["version"])) {
    return { version: 1, argv: ["docker-compose"], containerName: (p, s) => `${p}_${s}_1` };
  }
  throw new Error("neither `docker compose` (v2) nor `docker-compose` (v1) is installed");
}
