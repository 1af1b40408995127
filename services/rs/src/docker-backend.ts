// Compose: each service is a container compose created (labelled with its project and
// service name); rs drives them through the Docker Engine API over the mounted socket
// (dockerode). A die event is an exit, reported at once; start, stop and kill are the
// engine's. Mounting the socket gives rs root on the host: see the README.
import { hostname } from "node:os";
import Docker from "dockerode";
import { LocalError, systemClock, waitUntil, type Clock } from "#libsys";
import type { Backend, ExitInfo, RunSpec } from "./backend.ts";

const PROJECT_LABEL = "com.docker.compose.project";
const SERVICE_LABEL = "com.docker.compose.service";

interface Current {
  id: string;
  pid: number;
  /** The container's hostname: what its service reports to the kernel as `host`. */
  host: string;
}

/** At rs's boot, a running container younger than this is still starting: adopted as it is. */
const FRESH_START_MS = 30_000;

export class DockerBackend implements Backend {
  private readonly docker: Docker;
  private readonly project: string;
  private readonly clock: Clock;
  private readonly current = new Map<string, Current>();
  private readonly exitListeners: ((e: ExitInfo) => void)[] = [];
  private events?: NodeJS.ReadableStream;
  /** Dies rs's own restarts and stops will cause, per container: not news. */
  private readonly ownDies = new Map<string, number>();
  /** The signal of the last `kill` event per container: 15 before a die is `docker stop`. */
  private readonly killSignal = new Map<string, string>();

  private constructor(docker: Docker, project: string, clock: Clock) {
    this.docker = docker;
    this.project = project;
    this.clock = clock;
  }

  /**
   * Connects to the engine (the socket at /var/run/docker.sock, or DOCKER_HOST) and finds
   * the compose project from rs's own container (or MK_COMPOSE_PROJECT).
   */
  static async connect(o: { project?: string; clock?: Clock } = {}): Promise<DockerBackend> {
    const docker = new Docker();
    let project = o.project ?? process.env.MK_COMPOSE_PROJECT;
    try {
      if (!project) project = (await docker.getContainer(hostname()).inspect()).Config.Labels?.[PROJECT_LABEL];
    } catch (e) {
      throw new LocalError(
        "MK_ERR_SPAWN_FAILED",
        `rs cannot reach the Docker engine (is /var/run/docker.sock mounted?): ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!project)
      throw new LocalError("MK_ERR_BAD_ENV", "rs runs in a container that is not part of a compose project: set MK_COMPOSE_PROJECT");
    const b = new DockerBackend(docker, project, o.clock ?? systemClock);
    await b.refresh();
    await b.watch();
    return b;
  }

  /** The containers of this project, by compose service name. */
  private async containers(all = true): Promise<Map<string, Docker.ContainerInfo>> {
    const list = await this.docker.listContainers({ all, filters: { label: [`${PROJECT_LABEL}=${this.project}`] } });
    return new Map(list.map((c) => [c.Labels[SERVICE_LABEL], c]));
  }

  private async refresh(): Promise<void> {
    for (const [name, c] of await this.containers()) {
      if (c.State !== "running") continue;
      const info = await this.docker.getContainer(c.Id).inspect();
      this.current.set(name, { id: c.Id, pid: info.State.Pid, host: info.Config.Hostname });
    }
  }

  /** Start, stop and die events of the project's containers, for as long as rs runs. */
  private async watch(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ["container"], event: ["start", "kill", "die"], label: [`${PROJECT_LABEL}=${this.project}`] },
    })) as NodeJS.ReadableStream;
    this.events = stream;
    let buf = "";
    stream.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onEvent(line);
      }
      if (buf.length > 1 << 20) buf = ""; // no event is this long: drop garbage
    });
  }

  /**
   * The engine's events, in its order: `docker stop` is kill (signal 15), die, stop;
   * `docker kill` is kill (9), die; a process dying in its container is die alone; rs's
   * own restart is kill, die, stop, start, restart.
   */
  private onEvent(line: string): void {
    let ev: { id?: string; status?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return;
    }
    const name = ev.Actor?.Attributes?.[SERVICE_LABEL];
    const id = ev.id ?? "";
    if (!name) return;
    const action = ev.Action ?? ev.status;
    if (action === "kill") {
      this.killSignal.set(id, ev.Actor?.Attributes?.signal ?? "");
      return;
    }
    if (action === "start") {
      // Started outside rs (docker start): known again, so the kernel's events about it match.
      if (this.current.get(name)?.id === id) return;
      void this.docker
        .getContainer(id)
        .inspect()
        .then(
          (info) => this.current.set(name, { id, pid: info.State.Pid, host: info.Config.Hostname }),
          () => undefined,
        );
      return;
    }
    if (action !== "die") return;
    const signal = this.killSignal.get(id);
    this.killSignal.delete(id);
    const own = this.ownDies.get(id) ?? 0;
    if (own > 0) {
      this.ownDies.set(id, own - 1);
      return;
    }
    const cur = this.current.get(name);
    if (!cur || cur.id !== id) return;
    this.current.delete(name);
    const code = Number(ev.Actor?.Attributes?.exitCode ?? NaN);
    // A container killed by a signal exits 128+n.
    const bySignal = code > 128 ? (signalName(code - 128) ?? null) : null;
    for (const fn of this.exitListeners)
      fn({ name, pid: cur.pid, code: Number.isNaN(code) ? null : code, signal: bySignal, requested: signal === "15" });
  }

  private expectDie(id: string): void {
    this.ownDies.set(id, (this.ownDies.get(id) ?? 0) + 1);
  }

  close(): void {
    (this.events as { destroy?: () => void } | undefined)?.destroy?.();
  }

  onExit(fn: (e: ExitInfo) => void): void {
    this.exitListeners.push(fn);
  }

  watches(name: string): boolean {
    return this.current.has(name);
  }

  pid(name: string): number | undefined {
    return this.current.get(name)?.pid;
  }

  alive(name: string): boolean {
    return this.current.has(name);
  }

  /** The service's container runs as the incarnation the kernel reports (by its hostname). */
  matches(name: string, ev: { pid: number; host: string }): boolean {
    return this.current.get(name)?.host === ev.host;
  }

  list(): { name: string; pid: number; alive: boolean }[] {
    return [...this.current].map(([name, c]) => ({ name, pid: c.pid, alive: true }));
  }

  async start(spec: RunSpec, o: { boot?: boolean } = {}): Promise<number> {
    const c = (await this.containers()).get(spec.name);
    if (!c)
      throw new LocalError(
        "MK_ERR_SPAWN_FAILED",
        `${spec.name}: no container for service ${spec.name} in compose project ${this.project} (docker compose up creates it)`,
      );
    const container = this.docker.getContainer(c.Id);
    // Known before it runs: the new incarnation may report to the kernel before start() returns.
    const before = await container.inspect();
    this.current.set(spec.name, { id: c.Id, pid: 0, host: before.Config.Hostname });
    // At rs's boot, compose started it a moment ago and it has not reported ready yet (rs
    // boots beside the services that do not wait for it): that process is the incarnation
    // wanted, not one to restart (a restart here stopped a container `docker compose up`
    // was waiting on).
    if (o.boot && before.State.Running && this.clock.now() - Date.parse(before.State.StartedAt) < FRESH_START_MS) {
      this.current.set(spec.name, { id: c.Id, pid: before.State.Pid, host: before.Config.Hostname });
      return before.State.Pid;
    }
    try {
      if (before.State.Running) {
        this.expectDie(c.Id);
        await container.restart({ t: 3 }).catch(async (e: unknown) => {
          // No die of ours will come if it did not stop: the next die is news.
          if ((await container.inspect().catch(() => before)).State.StartedAt === before.State.StartedAt)
            this.ownDies.set(c.Id, Math.max(0, (this.ownDies.get(c.Id) ?? 1) - 1));
          throw e;
        });
      } else {
        await container.start();
      }
    } catch (e) {
      throw new LocalError(
        "MK_ERR_SPAWN_FAILED",
        `${spec.name}: the engine could not start container ${c.Names[0] ?? c.Id}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const info = await container.inspect();
    this.current.set(spec.name, { id: c.Id, pid: info.State.Pid, host: info.Config.Hostname });
    return info.State.Pid;
  }

  async stop(name: string, graceMs = 3000): Promise<void> {
    const c = (await this.containers()).get(name);
    if (c?.State !== "running") return;
    this.current.delete(name); // a stop asked for is not an exit to report
    await this.docker
      .getContainer(c.Id)
      .stop({ t: Math.ceil(graceMs / 1000) })
      .catch(() => undefined);
    await waitUntil(async () => ((await this.containers()).get(name)?.State === "running" ? undefined : true), {
      clock: this.clock,
      deadlineMs: graceMs + 5000,
      intervalMs: 100,
      what: `container ${name} to stop`,
    });
  }

  async stopAll(groups: string[][], graceMs = 3000): Promise<void> {
    for (const g of groups) await Promise.all(g.map((n) => this.stop(n, graceMs)));
  }

  signal(name: string, signal: NodeJS.Signals): number {
    const cur = this.current.get(name);
    if (!cur) throw new LocalError("MK_ERR_UNKNOWN_PART", `no running container for ${name} in compose project ${this.project}`);
    void this.docker
      .getContainer(cur.id)
      .kill({ signal })
      .catch(() => undefined);
    return cur.pid;
  }
}

function signalName(n: number): NodeJS.Signals | undefined {
  const names: Record<number, NodeJS.Signals> = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM" };
  return names[n];
}
