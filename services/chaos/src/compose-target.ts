// A running compose stack as a chaos target (`mkctl chaos run --compose`). The runner
// reaches mkos from the host: kernel-core's published HTTP port, NATS's published port
// with the chaos credential copied out of the config container, and the Docker CLI for
// the faults that are signals (a kill is `docker kill` of the service's container; a hang
// is SIGSTOP to the driver's own Node process, by its host pid: root on the Docker host).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { systemClock } from "#base/clock.ts";
import { LocalError } from "#base/errors.ts";
import { waitUntil } from "#base/wait.ts";
import { loadSystemTable } from "#base/system-table.ts";
import type { Credential } from "#libsys";
import { PROJECT_ROOT } from "#boot";
import { detectCompose } from "#boot";
import { portFromEnv } from "#boot";
import { kernelOverHttp, type ChaosTarget } from "./runner.ts";

const SERVICE_OF: Record<string, string> = { kernel: "kernel-core", hardware: "hardware-emulator" };

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 }).trim();
}

export interface ComposeTargetOptions {
  /** The compose project (default COMPOSE_PROJECT_NAME, else the checkout's folder name, as compose does). */
  project?: string;
  kernelPort?: number;
  natsPort?: number;
}

export function composeTarget(o: ComposeTargetOptions = {}): ChaosTarget {
  const compose = detectCompose();
  const project =
    o.project ??
    process.env.COMPOSE_PROJECT_NAME ??
    basename(PROJECT_ROOT)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, "");
  const kernelPort = o.kernelPort ?? portFromEnv("MKOS_KERNEL_PORT") ?? 7700;
  const natsPort = o.natsPort ?? portFromEnv("MK_NATS_PORT") ?? 4222;
  const container = (service: string) => compose.containerName(project, SERVICE_OF[service] ?? service);
  try {
    docker("inspect", "-f", "{{.State.Running}}", container("kernel"));
  } catch {
    throw new LocalError(
      "MK_ERR_KERNEL_UNREACHABLE",
      `no compose stack "${project}" runs here (no container ${container("kernel")}): docker compose up first, or name it with --project`,
    );
  }
  const state = (part: string) => docker("inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", container(part)).split(" ");
  const http = kernelOverHttp(`http://127.0.0.1:${kernelPort}`);
  const ready = http.kernelReady;
  return {
    table: loadSystemTable(join(PROJECT_ROOT, "etc", "system.yaml")),
    ...http,
    booted: false,
    credential(label: string): Credential {
      const dir = mkdtempSync(join(tmpdir(), "mkos-chaos-cred-"));
      try {
        docker("cp", `${container("config")}:/run/mkos/creds/${label}.json`, join(dir, "cred.json"));
        const cred = JSON.parse(readFileSync(join(dir, "cred.json"), "utf8")) as Credential;
        return { ...cred, servers: [`nats://127.0.0.1:${natsPort}`] };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    signal(label: string, signal: NodeJS.Signals) {
      if (signal === "SIGKILL") {
        docker("kill", container(label));
        return;
      }
      // The driver's own Node process, not the container's init.
      const pid = docker("top", container(label), "-eo", "pid,args")
        .split("\n")
        .slice(1)
        .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
        .find((m) => m && /^node services\//.test(m[2]))?.[1];
      if (!pid) throw new LocalError("MK_ERR_UNKNOWN_PART", `no Node process in container ${container(label)}`);
      process.kill(Number(pid), signal);
    },
    incarnation: (part) => {
      try {
        return state(part)[1];
      } catch {
        return undefined;
      }
    },
    alive: (part) => {
      try {
        return state(part)[0] === "true";
      } catch {
        return false;
      }
    },
    // docker kill is not undone by the restart policy: the container is started again by hand, as an operator would.
    async restartKernel() {
      docker("kill", container("kernel"));
      docker("start", container("kernel"));
      await waitUntil(() => ready().then((ok) => ok || undefined), {
        clock: systemClock,
        deadlineMs: 60_000,
        what: `${container("kernel")} answering /readyz`,
      });
    },
  };
}
