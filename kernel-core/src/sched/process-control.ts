// How the scheduler acts on real processes: SIGSTOP and SIGCONT, and what /proc says of
// a process (its state letter and CPU time). A pid is only ever touched after it proved
// to be the incarnation that registered. In process mode (SignalControl) its environment
// names the label (MK_LABEL) and this run's credentials directory (MK_CREDS), and it runs
// on kernel-core's host. In compose (AgentControl) the scheduled containers share one PID
// namespace and each service has its own UID: the process's UID must be its label's,
// and the signals are sent by the CPU agent (cpu-agent.ts), which checks the UID again.
// Either way kernel-core, nats-server, the emulator and anything outside this mkos run
// can never be stopped.
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { hostname, setPriority } from "node:os";
import type { Logger } from "#base/log.ts";
import { dirname, isAbsolute, resolve } from "node:path";

export interface ProcSample {
  /** The state letter of /proc/<pid>/stat: R running, S sleeping, T stopped ... */
  state: string;
  /** CPU time used so far, in nanoseconds. */
  cpuNs: number;
  /** Its (main thread's) Linux nice value now, where the controller can see it. */
  nice?: number;
}

/** The scheduler's hands: a test gives it a fake one. */
export interface ProcessControl {
  /** Whether pid (on host) is label's process in this run (and may so be stopped). */
  verify(pid: number, label: string, host: string): boolean;
  /** false: the process is gone. */
  stop(pid: number): boolean;
  cont(pid: number): boolean;
  /** undefined: the process is gone (or is no longer the one verified). */
  sample(pid: number): ProcSample | undefined;
  /** The host's own nice value for pid (how Linux weighs it against kernel-core, NATS and the emulator). */
  setHostNice(pid: number, nice: number): boolean;
  /** setHostNice's true means "asked" (an agent acts a moment later), not "done". */
  readonly niceLater?: boolean;
  /** The incarnation of pid is gone: forget what was verified of it. */
  forget?(pid: number): void;
  /** A signal from SYS_KILL (chaos) to a verified pid; false: it is gone. */
  kill(pid: number, sig: KillSignal): boolean;
}

/** What SYS_KILL may send: end, ask to end, hang and continue. */
export type KillSignal = "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT";

/** /proc/<pid>/stat's fields after the command name: [0] state, [11] utime, [12] stime, [19] starttime. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  return close < 0 ? undefined : text.slice(close + 2).split(" ");
}

const CLK_TCK_NS = 10_000_000; // USER_HZ 100 on Linux

/**
 * Sets the Linux nice value of every thread of pid (nice is per thread: setpriority on the
 * pid alone leaves the threads a Node process started before it, V8's and libuv's, where
 * they were; threads started later inherit it). Throws if pid itself cannot be changed.
 */
export function setNiceAllThreads(pid: number, nice: number): void {
  setPriority(pid, nice);
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // gone meanwhile
  }
  for (const t of tids) {
    const tid = Number(t);
    if (!Number.isInteger(tid) || tid === pid) continue;
    try {
      setPriority(tid, nice);
    } catch {
      // the thread ended meanwhile
    }
  }
}

/** What /proc/<pid>/stat says of a process (all threads): state letter, user + system CPU in ms, Linux nice; undefined once it is gone. */
export function readProcStat(pid: number): { state: string; cpuMs: number; nice: number } | undefined {
  const f = statFields(pid);
  return f ? { state: f[0], cpuMs: ((Number(f[11]) + Number(f[12])) * CLK_TCK_NS) / 1e6, nice: Number(f[16]) } : undefined;
}

/** Signals and /proc: process mode, or containers sharing kernel-core's PID namespace. */
export class SignalControl implements ProcessControl {
  private readonly credsDir: string | undefined;
  /** starttime of each verified pid: a reused pid is not the process verified. */
  private readonly started = new Map<number, string>();

  constructor(credsFile = process.env.MK_CREDS) {
    this.credsDir = credsFile ? dirname(resolve(credsFile)) : undefined;
  }

  verify(pid: number, label: string, host: string): boolean {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === process.ppid || host !== hostname()) return false;
    const env = readEnviron(pid);
    if (!env || env.get("MK_LABEL") !== label) return false;
    if (this.credsDir !== undefined && credsDirOf(pid, env) !== this.credsDir) return false;
    return this.remember(pid);
  }

  stop(pid: number): boolean {
    return this.signal(pid, "SIGSTOP");
  }

  cont(pid: number): boolean {
    return this.signal(pid, "SIGCONT");
  }

  sample(pid: number): ProcSample | undefined {
    const f = statFields(pid);
    if (!f || (this.started.has(pid) && this.started.get(pid) !== f[19])) return undefined;
    let cpuNs: number;
    try {
      // The main thread's run time in ns (the JavaScript thread of a Node process).
      cpuNs = Number(readFileSync(`/proc/${pid}/schedstat`, "latin1").split(" ")[0]);
    } catch {
      cpuNs = (Number(f[11]) + Number(f[12])) * CLK_TCK_NS;
    }
    return { state: f[0], cpuNs: Number.isFinite(cpuNs) ? cpuNs : 0, nice: Number(f[16]) };
  }

  setHostNice(pid: number, nice: number): boolean {
    if (!this.knows(pid)) return false;
    try {
      setNiceAllThreads(pid, nice);
      return true;
    } catch {
      return false; // gone, or not ours to change
    }
  }

  /** Forgets a pid once its incarnation is gone. */
  forget(pid: number): void {
    this.started.delete(pid);
  }

  /** Remembers a verified pid, if it is a process (a thread-group leader), not one thread of one. */
  protected remember(pid: number): boolean {
    const f = statFields(pid);
    if (!f || procStatus(pid, "Tgid") !== String(pid)) return false;
    this.started.set(pid, f[19]);
    return true;
  }

  /** pid is still the process verified (not a reused pid): checked before every signal. */
  protected knows(pid: number): boolean {
    const was = this.started.get(pid);
    if (was === undefined) return false;
    if (statFields(pid)?.[19] === was) return true;
    this.started.delete(pid);
    return false;
  }

  kill(pid: number, sig: KillSignal): boolean {
    return this.signal(pid, sig);
  }

  private signal(pid: number, sig: KillSignal): boolean {
    if (!this.knows(pid)) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Continues every process of this run left stopped (state T): what a previous
   * kernel-core stopped before it died. Returns the pids continued.
   */
  thawRun(labels: ReadonlySet<string>): number[] {
    if (this.credsDir === undefined) return [];
    const out: number[] = [];
    let pids: string[];
    try {
      pids = readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d));
    } catch {
      return out;
    }
    for (const d of pids) {
      const pid = Number(d);
      if (pid === process.pid || statFields(pid)?.[0] !== "T") continue;
      const env = readEnviron(pid);
      const label = env?.get("MK_LABEL");
      if (!env || !label || !labels.has(label) || credsDirOf(pid, env) !== this.credsDir) continue;
      try {
        process.kill(pid, "SIGCONT");
        out.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
}

/** The directory of pid's MK_CREDS, a relative one resolved against pid's working directory. */
function credsDirOf(pid: number, env: Map<string, string>): string | undefined {
  const creds = env.get("MK_CREDS");
  if (!creds) return undefined;
  if (isAbsolute(creds)) return dirname(resolve(creds));
  try {
    return dirname(resolve(readlinkSync(`/proc/${pid}/cwd`), creds));
  } catch {
    return undefined;
  }
}

function readEnviron(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const kv of raw.split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0 && (kv.startsWith("MK_LABEL=") || kv.startsWith("MK_CREDS="))) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return env;
}

/** A field of /proc/<pid>/status (readable by anyone), or undefined if the process is gone. */
function procStatus(pid: number, field: string): string | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return m ? m[1].trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The UID of pid when its real, effective, saved and file-system UIDs are one (else -1:
 * a process that changed identity is nobody's to schedule), or undefined if it is gone.
 */
export function procUid(pid: number): number | undefined {
  const uids = procStatus(pid, "Uid")?.split(/\s+/).map(Number);
  if (uids?.length !== 4 || uids.some((u) => !Number.isInteger(u))) return undefined;
  return uids.every((u) => u === uids[0]) ? uids[0] : -1;
}

/** Labels whose processes are the machine's, never scheduled whatever their UID. */
const UNSCHEDULED_LABELS = ["kernel", "sys", "hardware"];

/**
 * The UIDs a CPU agent may act on: each scheduled label's own UID, if no other label and
 * none of the machine's (kernel, sys, hardware) has it, and never root.
 */
export function schedulableUids(uids: { byLabel: Map<string, number> }): Map<number, string> {
  const count = new Map<number, number>();
  for (const u of uids.byLabel.values()) count.set(u, (count.get(u) ?? 0) + 1);
  const machine = new Set(UNSCHEDULED_LABELS.map((l) => uids.byLabel.get(l)).filter((u): u is number => u !== undefined));
  const out = new Map<number, string>();
  for (const [label, u] of uids.byLabel) {
    if (u !== 0 && count.get(u) === 1 && !machine.has(u) && !UNSCHEDULED_LABELS.includes(label)) out.set(u, label);
  }
  return out;
}

/** MK_UIDS ("label=uid,...", as compose's config container takes it). */
export function parseUids(spec: string): { byLabel: Map<string, number> } {
  const byLabel = new Map<string, number>();
  for (const kv of spec.split(",")) {
    const [label, uid] = kv.split("=");
    if (label && /^[0-9]+$/.test(uid ?? "")) byLabel.set(label.trim(), Number(uid));
  }
  return { byLabel };
}

/** Lines waiting while the agent's socket is (re)connecting; past this they are dropped. */
const AGENT_BACKLOG = 1024;
/** How long kernel-core waits, quietly, for a CPU agent that starts beside it (compose) before it warns. */
const AGENT_START_MS = 5000;

/**
 * Compose: containers share one PID namespace; a process is label's when its UID is
 * label's (never root). Stops, continues and nice values go to the CPU agent over its
 * unix socket, in order; while the agent is away nothing is stopped (every call says no).
 */
export class AgentControl extends SignalControl {
  readonly niceLater = true;
  private readonly path: string;
  private readonly schedulable: Map<number, string>;
  private sock?: Socket;
  private warned = false;
  /** Not connected yet since kernel-core started: compose starts the agent beside kernel-core. */
  private firstTry = true;
  private readonly startedAt = Date.now();
  private connected = false;
  private retry?: ReturnType<typeof setTimeout>;
  private closed = false;

  private readonly log?: Logger;

  constructor(path: string, uids = parseUids(process.env.MK_UIDS ?? ""), log?: Logger) {
    super();
    this.log = log;
    this.path = path;
    this.schedulable = schedulableUids(uids);
    this.connect();
  }

  /** label's process: its UID is label's own (no other label's, never root's). */
  override verify(pid: number, label: string): boolean {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return false;
    const uid = procUid(pid);
    if (uid === undefined || this.schedulable.get(uid) !== label) return false;
    return this.remember(pid);
  }

  override stop(pid: number): boolean {
    return this.send(pid, `stop ${pid}`);
  }

  override cont(pid: number): boolean {
    return this.send(pid, `cont ${pid}`);
  }

  override setHostNice(pid: number, nice: number): boolean {
    return this.send(pid, `nice ${pid} ${nice}`);
  }

  override kill(pid: number, sig: KillSignal): boolean {
    return this.send(pid, `kill ${pid} ${sig}`);
  }

  /** The agent continues what it stopped when kernel-core's connection closes. */
  override thawRun(): number[] {
    return [];
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.sock?.destroy();
  }

  private send(pid: number, line: string): boolean {
    if (!this.knows(pid) || !this.connected || !this.sock || this.sock.writableLength > AGENT_BACKLOG * 32) return false;
    this.sock.write(`${line}\n`);
    return true;
  }

  private connect(): void {
    if (this.closed) return;
    const sock = createConnection(this.path);
    this.sock = sock;
    sock.unref();
    sock.on("connect", () => {
      this.connected = true;
      this.firstTry = false;
      this.warned = false;
    });
    sock.on("error", (e) => {
      // An agent starting beside kernel-core is not an outage: quiet for AGENT_START_MS.
      if (this.firstTry && Date.now() - this.startedAt < AGENT_START_MS) return;
      // Said once per outage: without the agent nothing is stopped (every row runs).
      if (!this.warned)
        this.log?.warn({ path: this.path, err: (e as Error).message }, "the CPU agent does not answer: nothing is stopped until it does");
      this.warned = true;
    });
    sock.on("close", () => {
      this.connected = false;
      if (this.closed) return;
      this.retry = setTimeout(() => this.connect(), 500);
      this.retry.unref();
    });
  }
}
