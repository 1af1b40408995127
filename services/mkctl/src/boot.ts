// Process-mode boot: every part of mkos as its own OS process on this host. Generates
// the NATS config and one credential per service from the privilege table, starts
// nats-server, kernel-core, the hardware emulator and each user-placement service,
// waits until the kernel reports all of them ready, and records PIDs in state.json so
// `mkctl down` (or a test) can stop exactly what it started.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KERNEL } from "#abi";
import { generateNatsAuth, HARDWARE_USER, SYS_USER, writeCredentials } from "./nats-config.ts";
import { loadSystemTable, type SystemTable } from "#base/system-table.ts";
import { startNatsServer, waitNatsHealthy } from "./nats-server.ts";
import { freePort } from "./ports.ts";

export const PROJECT_ROOT = resolve(import.meta.dirname, "../../..");

export interface SystemState {
  runDir: string;
  system: string;
  disk: string;
  natsUrl: string;
  natsMonitorPort: number;
  kernelHttp: string;
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
}

/** Alive and not a zombie: an exited child nobody has reaped yet still answers kill(0). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

export class ProcessSystem {
  readonly state: SystemState;
  readonly table: SystemTable;
  private readonly env: Record<string, string>;

  private constructor(state: SystemState, table: SystemTable, env: Record<string, string> = {}) {
    this.state = state;
    this.table = table;
    this.env = env;
  }

  static defaultRunDir(): string {
    return process.env.MKOS_RUN_DIR ?? join(PROJECT_ROOT, ".mkos", "run");
  }

  /** Attaches to a system booted earlier (mkctl ps/down from another process). */
  static attach(runDir = ProcessSystem.defaultRunDir()): ProcessSystem {
    const file = join(runDir, "state.json");
    if (!existsSync(file)) throw new Error(`no mkos system in ${runDir} (mkctl up first)`);
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
      if (Object.values(old.pids).some(pidAlive)) throw new Error(`a system is already running from ${runDir} (mkctl down first)`);
    }
    mkdirSync(join(runDir, "logs"), { recursive: true });
    const disk = resolve(o.disk ?? resolve(PROJECT_ROOT, table.hardware.diskImage));
    mkdirSync(resolve(disk, ".."), { recursive: true });

    const [port, monitor] = [await freePort(), await freePort()];
    const httpPort = table.kernel.httpPort === 0 ? await freePort() : table.kernel.httpPort;
    const natsUrl = `nats://127.0.0.1:${port}`;
    const auth = generateNatsAuth(table, { clientUrl: natsUrl, listen: `127.0.0.1:${port}`, monitor: `127.0.0.1:${monitor}` });
    writeFileSync(join(runDir, "nats.conf"), auth.config, { mode: 0o600 });
    writeCredentials(join(runDir, "creds"), auth.credentials);

    const sys = new ProcessSystem(
      { runDir, system, disk, natsUrl, natsMonitorPort: monitor, kernelHttp: `http://127.0.0.1:${httpPort}`, pids: {}, startedAt: new Date().toISOString() },
      table,
      { ...o.env },
    );
    try {
      const nats = startNatsServer(join(runDir, "nats.conf"), join(runDir, "logs", "nats.log"));
      sys.state.pids.nats = nats.pid!;
      sys.save();
      await waitNatsHealthy(monitor, 10_000);
      sys.spawn("hardware", table.hardware.command, HARDWARE_USER);
      sys.spawn(KERNEL, ["node", "kernel-core/src/main.ts"], KERNEL, { MK_SYS_CREDS: sys.credFile(SYS_USER), MK_HTTP_PORT: String(httpPort) });
      await sys.waitKernelReady(o.readyMs ?? 30_000);
      for (const svc of table.services.values()) {
        if (svc.placement === "user" && svc.command) sys.start(svc.label);
      }
      await sys.waitAllReady(o.readyMs ?? 30_000);
    } catch (e) {
      await sys.down();
      throw e;
    }
    return sys;
  }

  credFile(user: string): string {
    return join(this.state.runDir, "creds", `${user}.json`);
  }

  private save(): void {
    writeFileSync(join(this.state.runDir, "state.json"), JSON.stringify(this.state, null, 2) + "\n");
  }

  private spawn(name: string, command: string[], user: string, extra: Record<string, string> = {}): number {
    const [cmd, ...args] = command;
    const exe = cmd === "node" ? process.execPath : cmd;
    const log = openSync(join(this.state.runDir, "logs", `${name}.log`), "a");
    const child = spawn(exe, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...this.env, ...extra, MK_SYSTEM: this.state.system, MK_CREDS: this.credFile(user), MK_LABEL: user, MK_DISK: this.state.disk },
      stdio: ["ignore", log, log],
      detached: true,
    });
    child.unref();
    this.state.pids[name] = child.pid!;
    this.save();
    return child.pid!;
  }

  /** Starts (or starts again) one user-placement service: a new incarnation. */
  start(label: string): number {
    const svc = this.table.services.get(label);
    if (!svc?.command) throw new Error(`${label} has no command in ${this.state.system}`);
    if (svc.placement !== "user") throw new Error(`${label} runs inside kernel-core (placement: kernel)`);
    return this.spawn(label, svc.command, label);
  }

  /** Sends a signal to one service's process (SIGKILL = crash it). */
  kill(label: string, signal: NodeJS.Signals = "SIGKILL"): number {
    const pid = this.state.pids[label];
    if (!pid) throw new Error(`no process recorded for ${label}`);
    process.kill(pid, signal);
    return pid;
  }

  async endpoints(): Promise<{ endpoint: string; label: string; generation: number; state: string; placement: string; pid: number }[]> {
    const r = await fetch(`${this.state.kernelHttp}/endpoints`);
    return ((await r.json()) as { endpoints: never[] }).endpoints;
  }

  private async waitKernelReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!pidAlive(this.state.pids.kernel)) throw new Error(`kernel-core exited during boot; see ${join(this.state.runDir, "logs", "kernel.log")}`);
      try {
        const r = await fetch(`${this.state.kernelHttp}/readyz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`kernel-core not ready within ${ms} ms`);
  }

  /** Until every user-placement service with a command, and every in-kernel one, is ready. */
  async waitAllReady(ms: number, after: Record<string, number> = {}): Promise<void> {
    const want = [...this.table.services.values()].filter((s) => s.placement === "kernel" || s.command).map((s) => s.label);
    const deadline = Date.now() + ms;
    let missing = want;
    while (Date.now() < deadline) {
      const eps = await this.endpoints().catch(() => []);
      missing = want.filter((l) => !eps.some((e) => e.label === l && e.state === "ready" && e.generation > (after[l] ?? 0)));
      if (missing.length === 0) return;
      for (const l of missing) {
        const pid = this.state.pids[l];
        if (pid && !pidAlive(pid)) throw new Error(`${l} exited during start; see ${join(this.state.runDir, "logs", `${l}.log`)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not ready within ${ms} ms: ${missing.join(", ")}`);
  }

  /** Stops services, then kernel-core and the emulator, then NATS. Leaves no process. */
  async down(graceMs = 3000): Promise<void> {
    const order = [
      ...Object.keys(this.state.pids).filter((n) => !["nats", KERNEL, "hardware"].includes(n)),
      KERNEL, "hardware", "nats",
    ];
    for (const group of [order.slice(0, -3), [KERNEL], ["hardware"], ["nats"]]) {
      const pids = group.map((n) => this.state.pids[n]).filter((p): p is number => !!p && pidAlive(p));
      for (const p of pids) {
        try { process.kill(p, "SIGTERM"); } catch { /* already gone */ }
      }
      const deadline = Date.now() + graceMs;
      while (pids.some(pidAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      for (const p of pids.filter(pidAlive)) {
        try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
      }
      const killDeadline = Date.now() + 5000;
      while (pids.some(pidAlive) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 10));
      const left = pids.filter(pidAlive);
      if (left.length > 0) throw new Error(`processes ${left.join(", ")} survived SIGKILL`);
    }
    this.state.pids = {};
    this.save();
  }

  alive(): Record<string, boolean> {
    return Object.fromEntries(Object.entries(this.state.pids).map(([n, p]) => [n, pidAlive(p)]));
  }
}
