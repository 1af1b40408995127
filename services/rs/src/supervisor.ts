// The reincarnation server's core: one row per supervised service, and what to do when
// it ends. A crash is seen at once (the backend reports the exit, or the kernel's event
// stream says the incarnation is dead); a hang by heartbeat (heartbeat.ts: pings through
// the kernel; two periods without an answer, while rs ran and the kernel answered, is a
// hang: the process is killed and restarted). A restart waits backoff_min_ms, doubling up to backoff_max_ms, reset once
// the service has served for `intensity.seconds`; more than `intensity.restarts`
// restarts within `intensity.seconds` and the service is failed until started by hand
// (OTP's intensity). A stop by hand is not a crash. Time comes from the injected clock.
import { MkError, type KernelEvent, type ServiceStatus } from "#abi";
import type { Clock, Logger, Timer } from "#libsys";
import type { Backend, ExitInfo, RunSpec } from "./backend.ts";
import { Heartbeats } from "./heartbeat.ts";
import { ExitStatus } from "#base/errors.ts";

/** A child's exit as a cause: 70 (EX_SOFTWARE) is how an mkos part ends on an error nothing caught. */
function exitCause(code: number | null): string {
  return code === ExitStatus.SOFTWARE ? `exit ${code} (crash: an error no handler caught)` : `exit ${code}`;
}

interface RestartPolicy {
  heartbeatMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  intensity: { restarts: number; seconds: number };
}

export interface SupervisedService {
  label: string;
  spec: RunSpec;
  policy: RestartPolicy;
  /** rs may ping it (it is in rs's ipc list): hangs are detected. */
  heartbeat: boolean;
  /** How to run its warm standby (restart.standby): loaded and connected, waiting for SIGUSR1. */
  standby?: RunSpec;
}

/** How rs learned of a death: the process's exit, the kernel's dead event, or missed heartbeats. */
export type Detection = "exit" | "event" | "heartbeat" | "start-timeout";

/** A recovery, from death to serving again. */
export interface Recovery {
  label: string;
  cause: string;
  how: Detection;
  diedAt: number;
  detectedAt: number;
  servingAt: number;
  detectMs: number;
  recoverMs: number;
}

export interface SupervisorOptions {
  backend: Backend;
  clock: Clock;
  log: Logger;
  services: SupervisedService[];
  /** A null message through the kernel; rejects with the errno (ETIMEDOUT: no answer in time). */
  ping: (label: string, timeoutMs: number) => Promise<void>;
  /**
   * A null kernel call (rejects with the errno): a ping unanswered while the kernel did not
   * answer this promptly is the kernel's congestion, not a hang. Absent: not checked.
   */
  probe?: (timeoutMs: number) => Promise<void>;
  /** Told of every state change (rs's own events, the dashboard). */
  onChange?: (s: ServiceStatus, why: string) => void;
  /**
   * Where the operator's intent outlives rs: services stopped by hand or failed stay so
   * when rs restarts. Absent: kept in memory only.
   */
  intent?: { load(): Record<string, string>; save(intent: Record<string, string>): void };
}

type State = ServiceStatus["state"];

interface Row {
  readonly svc: SupervisedService;
  state: State;
  pid?: number;
  generation?: number;
  restarts: number;
  /** Restart times within the intensity window. */
  recent: number[];
  /** Restarts since the service last served for a whole intensity window (the backoff exponent). */
  consecutive: number;
  readySince?: number;
  lastCause?: string;
  /** Set while a death is being recovered from. */
  death?: { cause: string; how: Detection; diedAt: number; detectedAt: number };
  last?: Recovery;
  /** Why rs itself is killing the current process (a hang, a dead incarnation). */
  killing?: string;
  timer?: Timer;
}

/** How long a child's exit may lag the kernel's dead event before rs kills the process. */
const EXIT_GRACE_MS = 250;

/** How long a started service may take to be ready (at least 5 heartbeat periods). */
const START_TIMEOUT_MS = 10_000;

/** How long rs waits for a process it SIGKILLed to be reported gone. */
const KILL_WAIT_MS = 3000;

/** Recoveries kept for the report (the newest). */
const MAX_RECOVERIES = 1024;

export class Supervisor {
  private readonly o: SupervisorOptions;
  private readonly rows = new Map<string, Row>();
  /** A launch in progress per row: a second start joins it instead of spawning again. */
  private readonly launching = new Map<Row, Promise<void>>();
  /** Operator requests per row run one after another (RS_UP, RS_DOWN, RS_RESTART). */
  private readonly ops = new Map<Row, Promise<unknown>>();
  readonly recoveries: Recovery[] = [];
  private shuttingDown = false;
  private readonly heartbeats: Heartbeats;

  constructor(o: SupervisorOptions) {
    this.o = o;
    for (const svc of o.services) {
      this.rows.set(svc.label, { svc, state: "stopped", restarts: 0, recent: [], consecutive: 0 });
    }
    o.backend.onExit((e) => this.onExit(e));
    const periods = o.services.filter((s) => s.heartbeat).map((s) => s.policy.heartbeatMs);
    this.heartbeats = new Heartbeats(
      {
        clock: o.clock,
        log: () => this.o.log,
        ping: (label, ms) => this.o.ping(label, ms),
        probe: o.probe && ((ms) => this.o.probe!(ms)),
        current: (label, pid) => {
          const r = this.rows.get(label);
          return r?.state === "running" && r.pid === pid && !r.killing;
        },
        onHang: (label, pid, cause, lastAnswer) => {
          const r = this.rows.get(label);
          if (r?.pid === pid) void this.killAndRecover(r, cause, lastAnswer, "heartbeat");
        },
      },
      Math.min(...periods, 60_000),
    );
  }

  /**
   * Starts every service, except those already serving as a live process (rs restarted:
   * it adopts them, found by pid in the kernel's endpoint table).
   */
  async startAll(serving: { label: string; pid: number; host: string; generation: number }[] = []): Promise<void> {
    const intent = this.o.intent?.load() ?? {};
    for (const row of this.rows.values()) {
      const live = serving.find((s) => s.label === row.svc.label && this.o.backend.alive(s.label) && this.o.backend.matches(s.label, s));
      if (live) {
        Object.assign(row, { pid: this.o.backend.pid(row.svc.label), generation: live.generation });
        this.serving(row, "adopted");
        continue;
      }
      const was = intent[row.svc.label];
      if (was) {
        // Stopped by hand or failed before rs restarted: it stays so until started by hand.
        row.lastCause = was.replace(/^(stopped|failed): ?/, "") || undefined;
        this.set(row, was.startsWith("failed") ? "failed" : "stopped", `${was} (kept across rs's restart)`);
        continue;
      }
      await this.launch(row, "boot");
    }
  }

  /**
   * Incarnations rs launched at boot, or adopted as compose was starting them, whose ready
   * event came before rs was looking for it: serving (not left to their start timeout).
   */
  caughtUp(ready: { label: string; pid: number; host: string; generation: number }[]): void {
    for (const e of ready) {
      const r = this.rows.get(e.label);
      if (r?.state !== "starting" || !this.o.backend.matches(e.label, e)) continue;
      r.generation = e.generation;
      this.serving(r, "ready");
    }
  }

  private remember(r: Row, intent: string | undefined): void {
    if (!this.o.intent) return;
    const all = this.o.intent.load();
    if (intent) all[r.svc.label] = intent;
    else delete all[r.svc.label];
    this.o.intent.save(all);
  }

  /** One operator request at a time per service. */
  private serial<T>(r: Row, fn: () => Promise<T>): Promise<T> {
    const prev = this.ops.get(r) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.ops.set(
      r,
      next.catch(() => undefined),
    );
    return next;
  }

  list(): ServiceStatus[] {
    return [...this.rows.values()].map((r) => this.status(r));
  }

  private status(r: Row): ServiceStatus {
    return {
      label: r.svc.label,
      state: r.state,
      restarts: r.restarts,
      ...(r.pid ? { pid: r.pid } : {}),
      ...(r.generation ? { generation: r.generation } : {}),
      ...(r.lastCause ? { last_cause: r.lastCause.slice(0, 300) } : {}),
      ...(r.last
        ? { detect_ms: Math.round(r.last.detectMs), recover_ms: Math.round(r.last.recoverMs), ...this.recoverPercentiles(r.svc.label) }
        : {}),
      ...(r.svc.heartbeat ? { heartbeat_ms: r.svc.policy.heartbeatMs, misses_excused: this.heartbeats.excused(r.svc.label) } : {}),
    };
  }

  private recoverPercentiles(label: string): { recover_p50_ms: number; recover_p99_ms: number } {
    const xs = this.recoveries
      .filter((x) => x.label === label)
      .map((x) => x.recoverMs)
      .sort((a, b) => a - b);
    const at = (p: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]);
    return { recover_p50_ms: at(0.5), recover_p99_ms: at(0.99) };
  }

  private set(r: Row, state: State, why: string): void {
    r.state = state;
    this.o.onChange?.(this.status(r), why);
  }

  private row(label: string): Row {
    const r = this.rows.get(label);
    if (!r)
      throw new MkError("ENOENT", `rs supervises no service ${label} (it supervises: ${[...this.rows.keys()].join(", ") || "none"})`, {
        detail: { label },
      });
    return r;
  }

  /** RS_UP: a stopped or failed service is started; a running or starting one is left alone. */
  async up(label: string): Promise<number> {
    const r = this.row(label);
    return this.serial(r, async () => {
      if (r.state === "stopping") throw new MkError("EAGAIN", `${label} is stopping: start it once it stopped`);
      const pending = this.launching.get(r);
      if (pending) await pending;
      if (r.pid && r.state !== "stopped" && r.state !== "failed") return r.pid;
      r.timer?.cancel();
      Object.assign(r, { recent: [], consecutive: 0, death: undefined });
      this.remember(r, undefined);
      await this.launch(r, "started by hand");
      if (!r.pid) throw new MkError("EIO", `${label} could not start: ${r.lastCause}`);
      return r.pid;
    });
  }

  /** RS_DOWN: stopped by hand (SIGTERM, then SIGKILL): not a crash, not restarted. */
  async down(label: string): Promise<void> {
    const r = this.row(label);
    return this.serial(r, () => this.stopRow(r, "stopped by hand"));
  }

  private async stopRow(r: Row, why: string): Promise<void> {
    await this.launching.get(r)?.catch(() => undefined);
    r.timer?.cancel();
    this.set(r, "stopping", why);
    await this.o.backend.stop(r.svc.label);
    if (r.svc.standby) await this.o.backend.stop(r.svc.standby.name);
    Object.assign(r, { pid: undefined, generation: undefined, death: undefined });
    this.remember(r, "stopped");
    this.set(r, "stopped", why);
  }

  /** RS_RESTART: stop and start again; clears a failed state. */
  async restart(label: string): Promise<number> {
    const r = this.row(label);
    return this.serial(r, async () => {
      await this.stopRow(r, "restarted by hand");
      Object.assign(r, { recent: [], consecutive: 0, death: undefined });
      this.remember(r, undefined);
      await this.launch(r, "restarted by hand");
      if (!r.pid) throw new MkError("EIO", `${label} could not start: ${r.lastCause}`);
      return r.pid;
    });
  }

  /** Stops every service, the last started first (or none: stopServices false). Nothing is restarted from now on. */
  async shutdown(stopServices = true): Promise<void> {
    this.shuttingDown = true;
    this.heartbeats.stopAll();
    for (const r of this.rows.values()) r.timer?.cancel();
    if (!stopServices) return;
    const rows = [...this.rows.values()].reverse();
    for (const r of rows) {
      r.timer?.cancel();
      if (r.state !== "stopped" && r.state !== "failed") this.set(r, "stopping", "rs shutting down");
    }
    await this.o.backend.stopAll(rows.map((r) => [r.svc.label, ...(r.svc.standby ? [r.svc.standby.name] : [])]));
    for (const r of rows) if (r.state === "stopping") this.set(r, "stopped", "rs shut down");
  }

  private launch(r: Row, why: string): Promise<void> {
    const pending = this.launching.get(r);
    if (pending) return pending;
    const p = this.doLaunch(r, why).finally(() => this.launching.delete(r));
    this.launching.set(r, p);
    return p;
  }

  private async doLaunch(r: Row, why: string): Promise<void> {
    if (this.shuttingDown) return;
    r.timer?.cancel();
    this.set(r, "starting", why);
    Object.assign(r, { pid: undefined, generation: undefined, killing: undefined });
    try {
      r.pid = await this.o.backend.start(r.svc.spec, { boot: why === "boot" });
      this.o.log.info({ label: r.svc.label, child: r.pid, why }, "started %s (pid %d): %s", r.svc.label, r.pid, why);
    } catch (e) {
      r.lastCause = `cannot start: ${(e as Error).message}`;
      this.o.log.error({ label: r.svc.label, err: (e as Error).message }, "%s cannot start: marked failed", r.svc.label);
      this.remember(r, `failed: ${r.lastCause}`);
      this.set(r, "failed", r.lastCause);
      return;
    }
    // A service that never says SYS_READY (hung in its init, or its ready event lost) is
    // restarted like a hang.
    const pid = r.pid;
    const limit = Math.max(START_TIMEOUT_MS, 5 * r.svc.policy.heartbeatMs);
    const at = this.o.clock.now();
    r.timer = this.o.clock.setTimeout(() => {
      if (r.state === "starting" && r.pid === pid)
        void this.killAndRecover(r, `start timeout (not ready within ${limit} ms)`, at, "start-timeout");
    }, limit);
  }

  /** The kernel's view: an incarnation started, is ready, or died. */
  onEvent(ev: KernelEvent): void {
    const r = this.rows.get(ev.label);
    if (!r || r.state === "failed" || !this.o.backend.matches(ev.label, ev)) return; // not ours, or one already replaced
    if (ev.kind === "started" || ev.kind === "resumed") r.generation = ev.generation;
    else if (ev.kind === "ready" && r.state === "starting") this.serving(r, "ready");
    else if (ev.kind === "ready" && r.state === "stopped" && this.o.backend.alive(ev.label)) {
      // Started again outside rs (docker start): supervised again.
      Object.assign(r, { pid: this.o.backend.pid(ev.label), generation: ev.generation });
      this.remember(r, undefined);
      this.o.log.info({ label: r.svc.label, generation: ev.generation }, "%s was started outside rs: supervised again", r.svc.label);
      this.serving(r, "started outside rs");
    } else if (ev.kind === "dead" && ev.generation === r.generation && ev.cause !== "superseded" && r.state !== "stopping") {
      // A clean exit of a child is reported by its exit; anything else may leave the
      // process running without an incarnation that serves: it is killed and restarted.
      // A child's own exit usually follows within milliseconds and says more (the exit
      // code or signal): it is given EXIT_GRACE_MS before rs kills the process itself.
      const cause = `${ev.cause}${ev.detail ? ` (${ev.detail})` : ""}`;
      const at = this.o.clock.now();
      const pid = r.pid;
      if (!this.o.backend.watches(ev.label)) return void this.killAndRecover(r, cause, at, "event");
      if (ev.cause === "exit") return;
      this.o.clock.setTimeout(() => {
        if (r.pid === pid && r.state !== "stopping") void this.killAndRecover(r, cause, at, "event");
      }, EXIT_GRACE_MS);
    }
  }

  private serving(r: Row, why: string): void {
    const now = this.o.clock.now();
    r.timer?.cancel(); // the start deadline
    r.readySince = now;
    if (r.death) {
      const d = r.death;
      r.last = {
        label: r.svc.label,
        cause: d.cause,
        how: d.how,
        diedAt: d.diedAt,
        detectedAt: d.detectedAt,
        servingAt: now,
        detectMs: d.detectedAt - d.diedAt,
        recoverMs: now - d.detectedAt,
      };
      this.recoveries.push(r.last);
      if (this.recoveries.length > MAX_RECOVERIES) this.recoveries.shift();
      r.death = undefined;
      this.o.log.info(
        { label: r.svc.label, cause: d.cause, detectMs: r.last.detectMs, recoverMs: r.last.recoverMs },
        "%s serving again %d ms after its death was seen",
        r.svc.label,
        r.last.recoverMs,
      );
    }
    this.set(r, "running", why);
    if (r.svc.heartbeat && r.pid) this.heartbeats.watch(r.svc.label, r.pid, r.svc.policy.heartbeatMs);
    this.keepStandby(r);
  }

  /** A service with restart.standby has one idle incarnation started, ready to take over. */
  private keepStandby(r: Row): void {
    const spec = r.svc.standby;
    if (!spec || !this.o.backend.promote || this.shuttingDown || this.o.backend.alive(spec.name)) return;
    this.o.backend.start(spec).then(
      (pid) => this.o.log.info({ label: r.svc.label, child: pid }, "standby for %s started (pid %d)", r.svc.label, pid),
      (e: Error) => this.o.log.warn({ label: r.svc.label, err: e.message }, "standby for %s could not start: %s", r.svc.label, e.message),
    );
  }

  /** The standby becomes the next incarnation at once (no Node start). False: there is none. */
  private promoteStandby(r: Row, why: string): boolean {
    const spec = r.svc.standby;
    if (!spec || !this.o.backend.promote || !this.o.backend.alive(spec.name)) return false;
    const pid = this.o.backend.promote(spec.name, r.svc.label);
    if (!pid) return false;
    try {
      process.kill(pid, "SIGUSR1");
    } catch {
      return false;
    }
    this.set(r, "starting", why);
    Object.assign(r, { pid, generation: undefined, killing: undefined });
    this.o.log.info({ label: r.svc.label, child: pid, why }, "standby (pid %d) takes over as %s: %s", pid, r.svc.label, why);
    const limit = Math.max(START_TIMEOUT_MS, 5 * r.svc.policy.heartbeatMs);
    const at = this.o.clock.now();
    r.timer = this.o.clock.setTimeout(() => {
      if (r.state === "starting" && r.pid === pid)
        void this.killAndRecover(r, `start timeout (not ready within ${limit} ms)`, at, "start-timeout");
    }, limit);
    return true;
  }

  /** rs ends the incarnation itself (a hang, or the kernel saw it die with the process still there). */
  private async killAndRecover(r: Row, cause: string, diedAt: number, how: Detection): Promise<void> {
    const pid = r.pid;
    if (!pid || r.killing) return;
    r.killing = cause;
    r.timer?.cancel();
    r.death = { cause, how, diedAt, detectedAt: this.o.clock.now() };
    this.o.log.warn({ label: r.svc.label, child: pid, cause }, "%s (pid %d): %s; killing it", r.svc.label, pid, cause);
    try {
      this.o.backend.signal(r.svc.label, "SIGKILL");
    } catch {
      // already gone
    }
    // A child's exit is reported (onExit); a process rs did not start is watched until
    // gone. Either way, one that is still the current process after KILL_WAIT_MS is
    // taken for dead (SIGKILL cannot be refused): a lost exit report never leaves a
    // service unrestarted.
    const watched = this.o.backend.watches(r.svc.label);
    const deadline = this.o.clock.now() + KILL_WAIT_MS;
    while (r.pid === pid && (watched || this.o.backend.alive(r.svc.label)) && this.o.clock.now() < deadline) await this.o.clock.sleep(20);
    if (r.pid === pid && r.killing === cause) this.crashed(r, cause, diedAt);
  }

  private onExit(e: ExitInfo): void {
    const r = this.rows.get(e.name);
    if (!r || e.pid !== r.pid) return;
    if (r.state === "stopping" || this.shuttingDown) return; // down() / shutdown() finish the row
    if (e.requested) {
      // Stopped outside rs (docker stop): a stop by hand. Started again outside rs, it is
      // supervised again from its ready event.
      Object.assign(r, { pid: undefined, generation: undefined, lastCause: `stopped by hand outside rs (exit ${e.code})` });
      this.remember(r, "stopped: outside rs");
      r.timer?.cancel();
      this.o.log.info({ label: r.svc.label, code: e.code }, "%s was stopped outside rs: left stopped", r.svc.label);
      this.set(r, "stopped", "stopped outside rs");
      return;
    }
    const cause = r.killing ?? (e.signal ? `signal ${e.signal}` : exitCause(e.code));
    this.crashed(r, cause, r.death?.diedAt ?? this.o.clock.now());
  }

  /** The incarnation is gone: restart after the backoff, or fail past the intensity. */
  private crashed(r: Row, cause: string, diedAt: number): void {
    const now = this.o.clock.now();
    const { backoffMinMs, backoffMaxMs, intensity } = r.svc.policy;
    r.timer?.cancel();
    r.death = { cause, how: r.death?.how ?? "exit", diedAt, detectedAt: r.death?.detectedAt ?? now };
    Object.assign(r, { pid: undefined, generation: undefined, killing: undefined, lastCause: cause });
    r.recent = r.recent.filter((t) => now - t < intensity.seconds * 1000);
    if (r.recent.length >= intensity.restarts) {
      this.o.log.error(
        { label: r.svc.label, cause, restarts: r.recent.length, seconds: intensity.seconds },
        "%s failed: %d restarts within %d s; mkctl restart %s clears it",
        r.svc.label,
        r.recent.length,
        intensity.seconds,
        r.svc.label,
      );
      this.remember(r, `failed: ${cause}; ${r.recent.length} restarts within ${intensity.seconds} s`);
      this.set(r, "failed", `${cause}; ${r.recent.length} restarts within ${intensity.seconds} s`);
      return;
    }
    if (r.readySince !== undefined && now - r.readySince >= intensity.seconds * 1000) r.consecutive = 0;
    const delay = Math.min(backoffMinMs * 2 ** r.consecutive, backoffMaxMs);
    const first = r.consecutive === 0;
    r.consecutive++;
    r.restarts++;
    r.recent.push(now);
    r.readySince = undefined;
    // The first restart after a healthy spell is a hand-over to the warm standby, if one
    // runs; a crash loop backs off like any other.
    if (first && this.promoteStandby(r, `standby after ${cause}`)) return;
    this.o.log.warn(
      { label: r.svc.label, cause, delayMs: delay, restarts: r.restarts },
      "%s died (%s): restart in %d ms",
      r.svc.label,
      cause,
      delay,
    );
    this.set(r, "backoff", cause);
    r.timer = this.o.clock.setTimeout(() => void this.launch(r, `restart after ${cause}`), delay);
  }
}
