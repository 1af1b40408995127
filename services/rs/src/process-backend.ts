// Process mode: each part is an OS child process of its own session (detached: a signal
// to the supervisor's terminal does not reach it). Pids are kept in a store that outlives
// the supervisor (mkctl's state.json), so another mkctl (kill, start, down) acts on the
// same processes. An exit is reported at once when this process is the child's parent.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { LocalError, systemClock, waitUntil, type Clock } from "#libsys";
import type { Backend, ExitInfo, RunSpec } from "./backend.ts";

/** Where the backend records pids: read fresh before each use, written after each change. */
export interface PidStore {
  load(): Record<string, number>;
  save(pids: Record<string, number>): void;
}

/** A record in a JSON file (written whole, then renamed: never half-written). */
export function jsonFileStore<T extends Record<string, unknown>>(file: string): { load(): T; save(v: T): void } {
  return {
    load: () => {
      try {
        return JSON.parse(readFileSync(file, "utf8")) as T;
      } catch {
        return {} as T;
      }
    },
    save: (v) => {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(v)}\n`);
      renameSync(`${file}.tmp`, file);
    },
  };
}

/** Pids in a JSON file. */
export function filePidStore(file: string): PidStore {
  return jsonFileStore<Record<string, number>>(file);
}

export function memoryPidStore(): PidStore {
  let pids: Record<string, number> = {};
  return { load: () => ({ ...pids }), save: (p) => void (pids = { ...p }) };
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

export class ProcessBackend implements Backend {
  private readonly store: PidStore;
  private readonly clock: Clock;
  private readonly exitListeners: ((e: ExitInfo) => void)[] = [];
  /** Children of this process not yet reaped: their exits will be reported. */
  private readonly children = new Set<number>();
  /** The part each child runs as now (a standby promoted changes name). */
  private readonly nameOf = new Map<number, string>();

  constructor(store: PidStore = memoryPidStore(), clock: Clock = systemClock) {
    this.store = store;
    this.clock = clock;
  }

  onExit(fn: (e: ExitInfo) => void): void {
    this.exitListeners.push(fn);
  }

  matches(name: string, ev: { pid: number; host: string }): boolean {
    return this.store.load()[name] === ev.pid;
  }

  watches(name: string): boolean {
    const pid = this.store.load()[name];
    return pid !== undefined && this.children.has(pid);
  }

  pid(name: string): number | undefined {
    const pid = this.store.load()[name];
    return pid && pidAlive(pid) ? pid : undefined;
  }

  alive(name: string): boolean {
    return this.pid(name) !== undefined;
  }

  list(): { name: string; pid: number; alive: boolean }[] {
    return Object.entries(this.store.load()).map(([name, pid]) => ({ name, pid, alive: pidAlive(pid) }));
  }

  async start(spec: RunSpec): Promise<number> {
    await this.stop(spec.name);
    const [cmd, ...args] = spec.command;
    const log = openSync(spec.logFile, "a", 0o600); // the dashboard logs its token
    let child;
    try {
      child = spawn(cmd === "node" ? process.execPath : cmd, args, {
        cwd: spec.cwd,
        env: spec.env,
        stdio: ["ignore", log, log],
        detached: true,
      });
    } finally {
      closeSync(log); // the child holds its own descriptor
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", (e) =>
        reject(
          new LocalError("MK_ERR_SPAWN_FAILED", `${spec.name}: cannot run ${cmd}: ${e.message}`, {
            cause: e,
            detail: { label: spec.name },
          }),
        ),
      );
    });
    this.children.add(pid);
    this.nameOf.set(pid, spec.name);
    child.once("exit", (code, signal) => {
      this.children.delete(pid);
      const name = this.nameOf.get(pid) ?? spec.name;
      this.nameOf.delete(pid);
      for (const fn of this.exitListeners) fn({ name, pid, code, signal });
    });
    child.unref();
    this.record(spec.name, pid);
    return pid;
  }

  async stop(name: string, graceMs = 3000): Promise<void> {
    await this.stopAll([[name]], graceMs);
  }

  async stopAll(groups: string[][], graceMs = 3000): Promise<void> {
    for (const group of groups) {
      const pids = group.map((n) => this.store.load()[n]).filter((p): p is number => !!p && pidAlive(p));
      for (const p of pids) signalPid(p, "SIGTERM");
      const gone = () => (pids.some(pidAlive) ? undefined : true);
      const termed = await waitUntil(gone, {
        clock: this.clock,
        deadlineMs: graceMs,
        intervalMs: 25,
        what: `${group.join(", ")} to stop`,
      }).catch(() => false);
      if (termed) continue;
      for (const p of pids.filter(pidAlive)) signalPid(p, "SIGKILL");
      await waitUntil(gone, { clock: this.clock, deadlineMs: 5000, intervalMs: 10, what: `${group.join(", ")} to die` }).catch(() => {
        throw new LocalError("MK_ERR_STOP_FAILED", `processes ${pids.filter(pidAlive).join(", ")} survived SIGKILL`);
      });
    }
  }

  signal(name: string, signal: NodeJS.Signals): number {
    const pid = this.store.load()[name];
    if (!pid)
      throw new LocalError(
        "MK_ERR_UNKNOWN_PART",
        `no process recorded for ${name} (parts: ${Object.keys(this.store.load()).join(", ") || "none"})`,
      );
    process.kill(pid, signal);
    return pid;
  }

  /**
   * The process recorded as `from` (a warm standby) is from now on `to`: its record and
   * its exit report move. Returns its pid, or undefined when none runs.
   */
  promote(from: string, to: string): number | undefined {
    const pids = this.store.load();
    const pid = pids[from];
    if (!pid || !pidAlive(pid)) return undefined;
    delete pids[from];
    pids[to] = pid;
    this.store.save(pids);
    this.nameOf.set(pid, to);
    return pid;
  }

  /** Records a process started some other way (nats-server through its own launcher). */
  record(name: string, pid: number): void {
    const pids = this.store.load();
    pids[name] = pid;
    this.store.save(pids);
  }

  /** Forgets every recorded process (after stopAll). */
  forgetAll(): void {
    this.store.save({});
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
