// Process-mode boot: every part of mkos as its own OS process on this host. Generates
// the NATS config and one credential per service from the privilege table, starts
// nats-server, kernel-core, the hardware emulator and each user-placement service
// through rs's process backend, waits until the kernel reports all of them ready, and
// records PIDs in state.json so `mkctl down` (or a test) can stop exactly what it started.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KERNEL } from "#abi";
import { systemClock } from "#base/clock.ts";
import { isLocalError, LocalError } from "#base/errors.ts";
import { loadSystemTable, type SystemTable } from "#base/system-table.ts";
import { StopWaiting, waitUntil, WaitTimeoutError } from "#base/wait.ts";
import { filePidStore, pidAlive, ProcessBackend, RS_LABEL, type RunSpec } from "#rs";
import { type LayoutType, MkError, type RepArgs, type ReqArgs, Rs, type ServiceStatus } from "#abi";
import { connectClient, loadCredential, createLogger, type RunningService } from "#libsys";
import { generateNatsAuth, HARDWARE_USER, SYS_USER, writeCredentials } from "./nats-config.ts";
import { findNatsServer, waitNatsHealthy } from "./nats-server.ts";
import { freePort, takePort } from "./ports.ts";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../../..");

export interface SystemState {
  runDir: string;
  system: string;
  disk: string;
  natsUrl: string;
  natsMonitorPort: number;
  kernelHttp: string;
  /** The port kernel-core was to listen on (the table's http_port, or MKOS_KERNEL_PORT); kernelHttp names the one it took. */
  kernelPortWanted?: number;
  natsPort: number;
  pids: Record<string, number>; // "nats", "kernel", "hardware", then service labels
  startedAt: string;
}

export interface UpOptions {
  system?: string;
  runDir?: string;
  disk?: string;
  /** Wait this long for everything to be ready. */
  readyMs?: number;
  /** Extra environment for every service (e.g. MK_LOG_LEVEL). */
  env?: Record<string, string>;
  /** kernel-core's HTTP port (mkctl up: MKOS_KERNEL_PORT), instead of the table's http_port; 0 any. One in use falls back to a free one. */
  kernelPort?: number;
}

export { pidAlive };

/** The part that keeps rs running in process mode (services/boot/src/keeper.ts). */
const KEEPER = "rs-keeper";

export class ProcessSystem {
  state: SystemState;
  readonly table: SystemTable;
  private readonly env: Record<string, string>;
  /** Runs the processes; its pids live in state.json, so another mkctl sees them. */
  readonly backend: ProcessBackend;
  private client?: Promise<RunningService>;
  /** Services rs could not bring up at boot (mkctl up reports them). */
  failed: ServiceStatus[] = [];
  /** The services rs runs as its children: their pids, in rs's own file. */
  readonly rsChildren: ProcessBackend;
  /** rs itself, as the child of its keeper (which restarts it when it dies). */
  readonly keeperChildren: ProcessBackend;

  private constructor(state: SystemState, table: SystemTable, env: Record<string, string> = {}) {
    this.state = state;
    this.table = table;
    this.env = env;
    this.backend = new ProcessBackend({
      load: () => {
        this.reload();
        return { ...this.state.pids };
      },
      save: (pids) => {
        this.state.pids = pids;
        this.save();
      },
    });
    this.rsChildren = new ProcessBackend(filePidStore(join(state.runDir, "rs-pids.json")));
    this.keeperChildren = new ProcessBackend(filePidStore(join(state.runDir, "keeper-pids.json")));
  }

  /** Does this system run rs (the privilege table gives it a command)? Then rs starts the services. */
  get supervised(): boolean {
    return !!this.table.services.get(RS_LABEL)?.command;
  }

  static defaultRunDir(): string {
    return process.env.MKOS_RUN_DIR ?? join(PROJECT_ROOT, ".mkos", "run");
  }

  /** Attaches to a system booted earlier (mkctl ps/down from another process). */
  static attach(runDir = ProcessSystem.defaultRunDir()): ProcessSystem {
    const file = join(runDir, "state.json");
    if (!existsSync(file)) throw new LocalError("MK_ERR_NO_SYSTEM", `no mkos system in ${runDir} (mkctl up first)`);
    const state = JSON.parse(readFileSync(file, "utf8")) as SystemState;
    return new ProcessSystem(state, loadSystemTable(state.system));
  }

  static async up(o: UpOptions = {}): Promise<ProcessSystem> {
    const system = resolve(o.system ?? join(PROJECT_ROOT, "etc", "system.yaml"));
    const table = loadSystemTable(system);
    const runDir = resolve(o.runDir ?? ProcessSystem.defaultRunDir());
    const statePath = join(runDir, "state.json");
    if (existsSync(statePath)) {
      const old = JSON.parse(readFileSync(statePath, "utf8")) as SystemState;
      const children = { ...filePidStore(join(runDir, "rs-pids.json")).load(), ...filePidStore(join(runDir, "keeper-pids.json")).load() };
      if ([...Object.values(old.pids), ...Object.values(children)].some(pidAlive))
        throw new LocalError("MK_ERR_SYSTEM_RUNNING", `a system is already running from ${runDir} (mkctl down first)`);
    }
    mkdirSync(join(runDir, "logs"), { recursive: true, mode: 0o700 });
    // A fresh boot: what an rs of an earlier boot ran and remembered does not apply.
    for (const f of ["rs-pids.json", "rs-intent.json", "keeper-pids.json", "generations.json"]) rmSync(join(runDir, f), { force: true });
    const disk = resolve(o.disk ?? resolve(PROJECT_ROOT, table.hardware.diskImage));
    mkdirSync(resolve(disk, ".."), { recursive: true });

    const [port, monitor] = [await freePort(), await freePort()];
    // Beside a compose stack (which publishes 7700) the wanted port is taken: a free one, said by mkctl up.
    const kernel = await takePort(o.kernelPort ?? table.kernel.httpPort);
    const natsUrl = `nats://127.0.0.1:${port}`;
    const auth = generateNatsAuth(table, {
      clientUrl: natsUrl,
      listen: `127.0.0.1:${port}`,
      monitor: `127.0.0.1:${monitor}`,
      ipcPath: o.env?.MK_IPC_PATH ?? process.env.MK_IPC_PATH,
    });
    writeFileSync(join(runDir, "nats.conf"), auth.config, { mode: 0o600 });
    writeCredentials(join(runDir, "creds"), auth.credentials);

    const sys = new ProcessSystem(
      {
        runDir,
        system,
        disk,
        natsUrl,
        natsPort: port,
        natsMonitorPort: monitor,
        kernelHttp: `http://127.0.0.1:${kernel.port}`,
        kernelPortWanted: kernel.wanted,
        pids: {},
        startedAt: new Date().toISOString(),
      },
      table,
      { ...o.env },
    );
    sys.save(); // the pid store reads state.json: it must be this boot's from the start
    try {
      await sys.startNats();
      await sys.startHardware();
      await sys.startKernel(o.readyMs ?? 30_000);
      if (sys.supervised) await sys.startRs();
      else for (const svc of table.services.values()) if (svc.placement === "user" && svc.command) await sys.start(svc.label);
      sys.failed = await sys.waitAllReady(o.readyMs ?? 30_000);
      await sys.closeClient();
    } catch (e) {
      await sys.down();
      throw e;
    }
    return sys;
  }

  /** Reads state.json again: another mkctl (start, kill) may have recorded new processes. */
  reload(): void {
    const file = join(this.state.runDir, "state.json");
    if (existsSync(file)) this.state = JSON.parse(readFileSync(file, "utf8")) as SystemState;
  }

  credFile(user: string): string {
    return join(this.state.runDir, "creds", `${user}.json`);
  }

  private save(): void {
    writeFileSync(join(this.state.runDir, "state.json"), `${JSON.stringify(this.state, null, 2)}\n`);
  }

  private spec(name: string, command: string[], user: string, extra: Record<string, string> = {}): RunSpec {
    return {
      name,
      command,
      cwd: PROJECT_ROOT,
      logFile: join(this.state.runDir, "logs", `${name}.log`),
      env: {
        // Node's compile cache: each part's modules compiled once, then read from disk at
        // every start (about half of a part's module loading; bench:boot).
        NODE_COMPILE_CACHE: join(PROJECT_ROOT, ".mkos", "node-compile-cache"),
        ...process.env,
        ...this.env,
        ...extra,
        MK_SYSTEM: this.state.system,
        MK_CREDS: this.credFile(user),
        MK_LABEL: user,
        MK_DISK: this.state.disk,
      } as Record<string, string>,
    };
  }

  /** nats-server, on the port and with the config it was booted with (its clients reconnect by themselves). */
  async startNats(): Promise<number> {
    const bin = findNatsServer();
    if (!bin)
      throw new LocalError("MK_ERR_NO_NATS_SERVER", "nats-server not found on PATH (apt-get install nats-server, or set MK_NATS_SERVER)");
    const pid = await this.backend.start({
      name: "nats",
      command: [bin, "-c", join(this.state.runDir, "nats.conf")],
      cwd: PROJECT_ROOT,
      env: { ...process.env } as Record<string, string>,
      logFile: join(this.state.runDir, "logs", "nats.log"),
    });
    await waitNatsHealthy(this.state.natsMonitorPort, 10_000);
    return pid;
  }

  /** The hardware emulator (a restarted machine is set up again by the kernel and the drivers). */
  startHardware(): Promise<number> {
    return this.backend.start(this.spec("hardware", this.table.hardware.command, HARDWARE_USER));
  }

  /** kernel-core; running services register again with it, keeping their generations. */
  async startKernel(readyMs = 30_000): Promise<number> {
    const port = new URL(this.state.kernelHttp).port;
    // Its state directory keeps the generation marks a restarted kernel-core numbers on from.
    const pid = await this.backend.start(
      this.spec(KERNEL, ["node", "kernel-core/src/main.ts"], KERNEL, {
        MK_SYS_CREDS: this.credFile(SYS_USER),
        MK_HTTP_PORT: port,
        MK_STATE_DIR: this.state.runDir,
      }),
    );
    await this.waitKernelReady(readyMs);
    return pid;
  }

  /**
   * rs, which starts every other service as its child (pids in rs-pids.json). A new rs
   * adopts the services still serving and starts the rest.
   */
  async startRs(): Promise<number> {
    const before = this.keeperChildren.pid(RS_LABEL);
    const keeper = this.backend.pid(KEEPER);
    if (keeper) {
      // A hand-over: the keeper asks rs to leave the services running and starts a new one.
      process.kill(keeper, "SIGUSR2");
    } else {
      await this.backend.start(
        this.spec(KEEPER, ["node", "services/boot/src/keeper.ts"], RS_LABEL, {
          MK_RUN_DIR: this.state.runDir,
          MK_RS_COMMAND: JSON.stringify(this.table.services.get(RS_LABEL)!.command!),
        }),
      );
    }
    return waitUntil(
      () => {
        const pid = this.keeperChildren.pid(RS_LABEL);
        return pid && pid !== before ? pid : undefined;
      },
      { clock: systemClock, deadlineMs: 20_000, intervalMs: 20, what: "rs started by its keeper" },
    );
  }

  /**
   * Starts (or starts again) one part: nats, kernel, hardware, rs, or a user-placement
   * service (a new incarnation). A process of that part still running is stopped first,
   * so no superseded process is left behind. A service is started through rs when the
   * system runs one (RS_RESTART: rs knows it was not a crash).
   */
  async start(label: string): Promise<number> {
    if (label === "nats") return this.startNats();
    if (label === KERNEL) return this.startKernel();
    if (label === "hardware") return this.startHardware();
    if (label === RS_LABEL && this.supervised) return this.startRs();
    const svc = this.table.services.get(label);
    if (!svc)
      throw new LocalError(
        "MK_ERR_UNKNOWN_PART",
        `no service ${label} in ${this.state.system} (parts: nats, kernel, hardware, ${[...this.table.services.keys()].join(", ")})`,
      );
    if (svc.placement !== "user")
      throw new LocalError("MK_ERR_NOT_STARTABLE", `${label} runs inside kernel-core (placement: kernel): start kernel instead`);
    if (!svc.command)
      throw new LocalError("MK_ERR_NOT_STARTABLE", `${label} is a client (no command in ${this.state.system}): nothing to start`);
    if (this.supervised) return (await this.rs(Rs.RS_RESTART, { label })).pid;
    return this.backend.start(this.spec(label, svc.command, label));
  }

  /** Stops one service by hand through rs (not a crash: rs does not restart it). */
  async stop(label: string): Promise<void> {
    if (!this.supervised) throw new LocalError("MK_ERR_USAGE", `mkctl stop needs rs in ${this.state.system}; use mkctl kill`);
    await this.rs(Rs.RS_DOWN, { label });
  }

  /** rs's view of every service it runs (RS_LIST). */
  async services(): Promise<ServiceStatus[]> {
    return (await this.rs(Rs.RS_LIST, {})).services;
  }

  /**
   * One request to rs, as the mkctl client (one connection, kept until closeClient). Another
   * mkctl that connected since supersedes this one (one incarnation per label): then once
   * more, on a new connection.
   */
  private async rs<T extends LayoutType>(type: T, args: ReqArgs<T>, again = true): Promise<RepArgs<T>> {
    this.client ??= (async () => {
      const log = createLogger("mkctl");
      log.level = "warn";
      return connectClient("mkctl", loadCredential(this.credFile("mkctl")), { log, instance: true });
    })();
    const client = await this.client.catch((e: unknown) => {
      this.client = undefined;
      throw e;
    });
    try {
      return (await client.sys.sendrec(RS_LABEL, type, args, undefined, 30_000)).args;
    } catch (e) {
      if (!(e instanceof MkError && (e.errno === "EDEADSRCDST" || e.errno === "ENOTREADY"))) throw e;
      await this.closeClient();
      // Superseded by another mkctl: one new connection. (If rs itself is dead, the retry
      // meets the same errno and it is thrown.)
      if (again && e.errno === "EDEADSRCDST") return this.rs(type, args, false);
      throw e;
    }
  }

  /** Closes the mkctl connection rs requests use (said goodbye with SYS_EXIT: not a crash). */
  async closeClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await (await c?.catch(() => undefined))?.stop().catch(() => undefined);
  }

  /** Every part's process: those mkctl started, and the services rs started. */
  pids(): Record<string, number> {
    this.reload();
    return {
      ...Object.fromEntries(this.rsChildren.list().map((p) => [p.name, p.pid])),
      ...Object.fromEntries(this.keeperChildren.list().map((p) => [p.name, p.pid])),
      ...this.state.pids,
    };
  }

  /** The process of a part: one mkctl started, or a service rs started. */
  pidOf(label: string): number | undefined {
    return this.pids()[label];
  }

  /** Sends a signal to one part's process (SIGKILL = crash it). */
  kill(label: string, signal: NodeJS.Signals = "SIGKILL"): number {
    this.reload();
    if (Object.values(this.pids()).filter(pidAlive).length === 0) {
      throw new LocalError("MK_ERR_NO_SYSTEM", `nothing of the system in ${this.state.runDir} runs (mkctl up first)`);
    }
    const svc = this.table.services.get(label);
    if (svc?.placement === "kernel") {
      throw new LocalError(
        "MK_ERR_NOT_STARTABLE",
        `${label} runs inside kernel-core (placement: kernel), not as its own process: kill kernel to crash it with the kernel`,
      );
    }
    if (label === RS_LABEL && this.keeperChildren.list().some((p) => p.name === label)) return this.keeperChildren.signal(label, signal);
    if (this.state.pids[label] === undefined && this.rsChildren.list().some((p) => p.name === label))
      return this.rsChildren.signal(label, signal);
    return this.backend.signal(label, signal);
  }

  async endpoints(): Promise<
    { endpoint: string; label: string; generation: number; state: string; placement: string; pid: number; host: string; since: string }[]
  > {
    const r = await fetch(`${this.state.kernelHttp}/endpoints`);
    return ((await r.json()) as { endpoints: never[] }).endpoints;
  }

  /**
   * Until the kernel this system started answers /readyz. Its answer must name the pid
   * spawned here: another kernel on the same port (another stack's) is not ours. If ours
   * exited, its own reason (the last line of its log, e.g. the port in use) is the error.
   */
  private async waitKernelReady(ms: number): Promise<void> {
    const pid = this.state.pids.kernel;
    const logFile = join(this.state.runDir, "logs", "kernel.log");
    await waitUntil(
      async () => {
        if (!pidAlive(pid))
          throw new StopWaiting(
            new LocalError("MK_ERR_PART_EXITED", `kernel-core exited during boot: ${lastError(logFile)} (see ${logFile})`),
          );
        const r = await fetch(`${this.state.kernelHttp}/readyz`).catch(() => undefined);
        if (!r?.ok) return undefined;
        const body = (await r.json().catch(() => ({}))) as { pid?: number };
        return body.pid === pid ? true : undefined;
      },
      { clock: systemClock, deadlineMs: ms, what: `kernel-core (pid ${pid}) ready at ${this.state.kernelHttp}` },
    );
  }

  /**
   * Until the given services (default: every user-placement service with a command, and
   * every in-kernel one) are ready with a generation above `after`'s. A service rs
   * reports failed (it cannot start, or crashed past its intensity) ends the wait for it:
   * it is returned, with rs's reason, and the system runs on without it.
   */
  async waitAllReady(ms: number, after: Record<string, number> = {}, only?: string[]): Promise<ServiceStatus[]> {
    const want = only ?? [...this.table.services.values()].filter((s) => s.placement === "kernel" || s.command).map((s) => s.label);
    let missing = want;
    let failed: ServiceStatus[] = [];
    await waitUntil(
      async () => {
        const eps = await this.endpoints().catch(() => []);
        missing = want.filter((l) => !eps.some((e) => e.label === l && e.state === "ready" && e.generation > (after[l] ?? 0)));
        if (missing.length === 0) return true;
        for (const l of missing) {
          // A service rs runs is restarted by rs: only a part mkctl started ends the wait.
          const pid = this.state.pids[l];
          if (pid && !pidAlive(pid))
            throw new StopWaiting(
              new LocalError("MK_ERR_PART_EXITED", `${l} exited during start; see ${join(this.state.runDir, "logs", `${l}.log`)}`),
            );
        }
        if (this.supervised && eps.some((e) => e.label === RS_LABEL && e.state === "ready")) {
          failed = (await this.services().catch(() => [])).filter((s) => s.state === "failed" && missing.includes(s.label));
          if (failed.length === missing.length) return true;
        }
        return undefined;
      },
      { clock: systemClock, deadlineMs: ms, intervalMs: 100, what: `ready: ${want.join(", ")}` },
    ).catch((e) => {
      throw isLocalError(e, "MK_ERR_WAIT_TIMEOUT") ? new WaitTimeoutError(`ready: ${missing.join(", ")}`, ms) : e;
    });
    return failed;
  }

  /** Stops services, then kernel-core and the emulator, then NATS. Leaves no process. */
  async down(graceMs = 3000): Promise<void> {
    await this.closeClient();
    this.reload();
    // rs first (it stops its services, the last started first), then whatever of them
    // is left (rs gone before), then the rest mkctl started, kernel-core, the emulator, NATS.
    // The keeper first: it stops rs (which stops its services) and does not start it again.
    await this.backend.stopAll([[KEEPER]], Math.max(graceMs, 20_000));
    await this.keeperChildren.stopAll([[RS_LABEL]], Math.max(graceMs, 15_000));
    this.keeperChildren.forgetAll();
    await this.rsChildren.stopAll([this.rsChildren.list().map((p) => p.name)], graceMs);
    this.rsChildren.forgetAll();
    const services = Object.keys(this.state.pids).filter((n) => !["nats", KERNEL, "hardware", KEEPER].includes(n));
    await this.backend.stopAll([services, [KERNEL], ["hardware"], ["nats"]], graceMs);
    this.backend.forgetAll();
  }

  /** fn hears how each part this process started (nats, kernel, hardware, rs's keeper) ended. */
  onExit(fn: (e: { name: string; pid: number; code: number | null; signal: NodeJS.Signals | null }) => void): void {
    this.backend.onExit(fn);
  }

  /** The kernel's endpoint table, or a clear error when no kernel of this system answers. */
  async endpointsOrExplain(): Promise<{ endpoint: string; label: string; generation: number; state: string }[]> {
    try {
      return await this.endpoints();
    } catch {
      const alive = Object.entries(this.alive());
      if (alive.every(([, up]) => !up))
        throw new LocalError(
          "MK_ERR_NO_SYSTEM",
          `nothing of the system in ${this.state.runDir} runs (it was stopped, or never booted): mkctl up`,
        );
      const down = alive.filter(([, up]) => !up).map(([n]) => n);
      throw new LocalError(
        "MK_ERR_KERNEL_UNREACHABLE",
        `kernel-core of the system in ${this.state.runDir} does not answer at ${this.state.kernelHttp}${down.length ? ` (not running: ${down.join(", ")})` : ""}: mkctl start kernel, or mkctl up`,
      );
    }
  }

  alive(): Record<string, boolean> {
    return Object.fromEntries(Object.entries(this.pids()).map(([n, p]) => [n, pidAlive(p)]));
  }
}

/** The last error line a process logged (pino JSON or plain), for a one-line reason. */
function lastError(file: string): string {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n").reverse();
    for (const l of lines) {
      if (!l.trim()) continue;
      try {
        const j = JSON.parse(l) as { level?: number; msg?: string };
        if ((j.level ?? 0) >= 50 && j.msg) return j.msg;
      } catch {
        return l.slice(0, 200);
      }
    }
  } catch {
    // no log
  }
  return "no reason logged";
}
