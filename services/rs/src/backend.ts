// What the reincarnation server (and mkctl, for the parts below rs) needs from whatever
// runs services: start one by name, stop it (asked, then forced), send it a signal, know
// whether it runs, and hear at once when it ends. Two backends: OS child processes
// (process mode, ./process-backend.ts) and, to come, the Docker Engine API (compose).

/** How to run one part: its command, environment and where its output goes. */
export interface RunSpec {
  /** The part's name: nats, kernel, hardware or a service label. */
  name: string;
  /** argv; "node" means the Node running the supervisor. */
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** Appended to (stdout and stderr). */
  logFile: string;
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ExitInfo {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Someone else asked for the stop (`docker stop`): a stop by hand, not a crash. */
  requested?: boolean;
}

export interface Backend {
  /** Starts `spec` (a running process of the same name is stopped first); resolves with its pid. */
  /**
   * boot: rs's own start-up, where a process or container that is starting already (compose
   * started it beside rs) may be taken as the incarnation instead of started again.
   */
  start(spec: RunSpec, o?: { boot?: boolean }): Promise<number>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. No-op if none runs. */
  stop(name: string, graceMs?: number): Promise<void>;
  /** Stops groups in order (each group together): services, then kernel, emulator, NATS. */
  stopAll(groups: string[][], graceMs?: number): Promise<void>;
  /** Sends a signal (SIGKILL: a crash; SIGSTOP: a hang); returns the pid it went to. */
  signal(name: string, signal: NodeJS.Signals): number;
  /** The pid of the part's current process, if one runs. */
  pid(name: string): number | undefined;
  alive(name: string): boolean;
  /** Every part with a recorded process, and whether it runs. */
  list(): { name: string; pid: number; alive: boolean }[];
  /** Called once per exit of a process this backend started (in this supervisor process). */
  onExit(fn: (e: ExitInfo) => void): void;
  /**
   * Is this kernel event's incarnation (its pid and host as it told the kernel) the current
   * process of `name`? A process by its pid; a container by its hostname.
   */
  matches(name: string, ev: { pid: number; host: string }): boolean;
  /** A warm standby recorded as `from` becomes `to` (optional: process backend only). */
  promote?(from: string, to: string): number | undefined;
  /** Will the current process of `name` be reported by onExit (this backend started it)? */
  watches(name: string): boolean;
}
