// Which Docker Compose this machine has: the v2 plugin (`docker compose`) or the v1
// standalone executable (`docker-compose`, all our CI machines have). v1 names
// containers <project>_<service>_1, v2 <project>-<service>-1.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { LocalError } from "#base/errors.ts";
import { PROJECT_ROOT } from "./boot.ts";

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
  throw new LocalError("MK_ERR_NO_COMPOSE", "neither `docker compose` (v2) nor `docker-compose` (v1) is installed");
}

/**
 * NODE_IMAGE and NATS_IMAGE to use: pulled when a registry answers, else local stand-ins
 * built by scripts/base-images.sh from this host's binaries (air-gapped machines).
 */
export function baseImages(): { NODE_IMAGE: string; NATS_IMAGE: string } {
  const out = execFileSync("bash", [join(PROJECT_ROOT, "scripts", "base-images.sh")], {
    encoding: "utf8",
    env: process.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const m = /export NODE_IMAGE=(\S+) NATS_IMAGE=(\S+)/.exec(out);
  if (!m) throw new LocalError("MK_ERR_BASE_IMAGES", `scripts/base-images.sh printed no images: ${out}`);
  return { NODE_IMAGE: m[1], NATS_IMAGE: m[2] };
}
