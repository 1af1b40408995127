// Helpers for the compose tests: base images (pulled, or local stand-ins when no registry
// answers), docker CLI calls, and a host-side client with the mkctl credential.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectClient, createLogger, type RunningService } from "#libsys";

export const ROOT = join(import.meta.dirname, "../..");

export { baseImages } from "../../services/boot/src/compose.ts";

export function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).trim();
}

export function dockerFails(...args: string[]): string {
  try {
    execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
  throw new Error(`docker ${args.join(" ")} succeeded`);
}

export interface ContainerState {
  startedAt: string;
  restarts: number;
  running: boolean;
}

export function inspect(name: string): ContainerState {
  const [startedAt, restarts, running] = docker("inspect", "-f", "{{.State.StartedAt}} {{.RestartCount}} {{.State.Running}}", name).split(
    " ",
  );
  return { startedAt, restarts: Number(restarts), running: running === "true" };
}

/** Host PIDs of the processes in a container (`docker top`), for killing one from outside. */
export function hostPids(name: string, command: RegExp): number[] {
  return docker("top", name, "-eo", "pid,args")
    .split("\n")
    .slice(1)
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && command.test(m[2]) && !m[2].includes("docker-init"))
    .map((m) => Number(m[1]));
}

/** A host-side user program with the `user` credential copied out of the config container. */
export async function hostClient(configContainer: string, natsPort: number): Promise<RunningService> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-compose-"));
  let cred: { user: string; password: string; servers: string[] };
  try {
    docker("cp", `${configContainer}:/run/mkos/creds/user.json`, join(dir, "user.json"));
    cred = JSON.parse(readFileSync(join(dir, "user.json"), "utf8")) as typeof cred;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the credential stays in memory only
  }
  cred.servers = [`nats://127.0.0.1:${natsPort}`];
  const log = createLogger("compose-test");
  log.level = "warn";
  return connectClient("user", cred, { log });
}
