// rs's heartbeats: whether a service that does not answer is hung, or whether someone
// else is to blame. rs pings each service through the kernel every half period, and each
// ping waits one period for its answer. A hang is two periods without an answer in which
// at least two pings went unanswered, each sent and judged by an rs that was running, at
// a time the kernel answered a null call promptly. A ping lost while rs itself was stalled
// (SIGSTOP, a blocked event loop: after SIGCONT Node runs its overdue timers before it
// reads the answers waiting in the socket, so a ping's deadline fires before its answer
// is read) or while the kernel was congested (a flood of traps delays every message
// through it) is no evidence against the service: it is excused, counted per service,
// logged at most once per EXCUSE_LOG_MS, and the evidence starts again.
import { MkError } from "#abi";
import type { Clock, Logger, Timer } from "#libsys";

/** Why a ping that got no answer is not held against the service. */
export type Excuse = "rs stalled" | "kernel slow" | "kernel away";

export interface HeartbeatOptions {
  clock: Clock;
  /** Read at each line: rs's logger names its incarnation once it has one. */
  log: () => Logger;
  /** A null message to the service through the kernel; rejects with the errno. */
  ping: (label: string, timeoutMs: number) => Promise<void>;
  /** A null kernel call; absent: the kernel is taken as always responsive. */
  probe?: (timeoutMs: number) => Promise<void>;
  /** The incarnation is still the one watched (running, not being killed by rs). */
  current: (label: string, pid: number) => boolean;
  /** A hang: rs kills the incarnation. `lastAnswer` is when it last answered (taken as its death). */
  onHang: (label: string, pid: number, cause: string, lastAnswer: number) => void;
}

/** Consecutive unanswered pings that make a hang (with two periods without an answer). */
const MISSES_FOR_HANG = 2;
/**
 * A slow kernel excuses a service's silence for at most this many of its periods: a flood
 * that lasts must not hide a real hang for as long as it lasts (a hung ata was found only
 * 42 s later, when a 40 s flood ended).
 */
const MAX_EXCUSED_PERIODS = 10;
/** Excuses are logged at most once per this many ms (the rest summed in the next line). */
const EXCUSE_LOG_MS = 10_000;
/** How long a probe may take before rs stops waiting for it (the transport adds its own second). */
const PROBE_TIMEOUT_MS = 5000;

interface Ping {
  readonly sentAt: number;
  /** rs's stall count when it was sent: a stall since voids it. */
  readonly epoch: number;
  /** Answered, held against the service, or excused: only once. */
  judged: boolean;
}

interface Watch {
  readonly label: string;
  readonly pid: number;
  readonly hb: number;
  lastAnswer: number;
  /** Where the evidence starts: the last answer, or the last excuse (a stall, the kernel slow). */
  since: number;
  lastPingAt: number;
  /** Consecutive pings unanswered, confirmed with the kernel responsive. */
  misses: number;
  pings: Ping[];
  /** When the next tick is due, to see that it came late (rs was stalled). */
  dueAt: number;
  timer?: Timer;
}

/**
 * How responsive the kernel is, from null kernel calls (at most one at a time): one
 * unanswered after promptMs, or failing, means the kernel is slow, from its sending until
 * its answer. Probes go out every everyMs while heartbeats run, so that a congestion that
 * ends before a ping is judged is still seen.
 */
class KernelGauge {
  private readonly clock: Clock;
  private readonly probe: (timeoutMs: number) => Promise<void>;
  readonly promptMs: number;
  private readonly everyMs: number;
  private inFlight?: { sentAt: number; prompt: Promise<boolean> };
  private lastSentAt = -Infinity;
  /** The last time the kernel was seen slow. */
  private slowAt = -Infinity;

  constructor(clock: Clock, probe: (timeoutMs: number) => Promise<void>, promptMs: number, everyMs: number) {
    this.clock = clock;
    this.probe = probe;
    this.promptMs = promptMs;
    this.everyMs = everyMs;
  }

  sample(): void {
    if (!this.inFlight && this.clock.now() - this.lastSentAt >= this.everyMs) void this.send();
  }

  /** The kernel was seen slow at t or later (a probe out for longer than promptMs is slow now). */
  slowSince(t: number): boolean {
    const now = this.clock.now();
    if (this.inFlight && now - this.inFlight.sentAt > this.promptMs) this.slowAt = now;
    return this.slowAt >= t;
  }

  /** Responsive since t: never seen slow since, and a probe now (or the one out) answered promptly. */
  async responsive(since: number): Promise<boolean> {
    if (this.slowSince(since)) return false;
    const prompt = await (this.inFlight?.prompt ?? this.send());
    return prompt && !this.slowSince(since);
  }

  private send(): Promise<boolean> {
    const sentAt = this.clock.now();
    this.lastSentAt = sentAt;
    const prompt = new Promise<boolean>((resolve) => {
      let answered = false;
      const late = this.clock.setTimeout(() => {
        this.slowAt = this.clock.now();
        resolve(false);
      }, this.promptMs);
      // A probe that never settles (a transport that lost it) is given up: the next one goes out.
      const lost = this.clock.setTimeout(() => settle(false), PROBE_TIMEOUT_MS + 2000);
      const settle = (kernelAnswered: boolean) => {
        if (answered) return;
        answered = true;
        late.cancel();
        lost.cancel();
        if (this.inFlight?.sentAt === sentAt) this.inFlight = undefined;
        const ms = this.clock.now() - sentAt;
        if (!kernelAnswered || ms > this.promptMs) this.slowAt = this.clock.now();
        resolve(kernelAnswered && ms <= this.promptMs);
      };
      // An errno from the kernel itself (EPERM, ECALLDENIED) is an answer all the same; no
      // answer in time, or no kernel on the bus, is not.
      this.probe(PROBE_TIMEOUT_MS).then(
        () => settle(true),
        (e: unknown) => settle(e instanceof MkError && e.errno !== "ETIMEDOUT" && e.errno !== "ENOTREADY"),
      );
    });
    this.inFlight = { sentAt, prompt };
    return prompt;
  }
}

export class Heartbeats {
  private readonly o: HeartbeatOptions;
  private readonly watches = new Map<string, Watch>();
  private readonly gauge?: KernelGauge;
  /** How many stalls of rs were seen: a ping sent before one is no evidence. */
  private epoch = 0;
  /** Excused pings per service (all its incarnations), for RS_LIST. */
  private readonly excusedBy = new Map<string, number>();
  /** Excuses not logged yet, by reason, and when the last line went out. */
  private unlogged = new Map<Excuse, number>();
  private loggedAt = -Infinity;
  private logTimer?: Timer;
  /** Stalls not logged yet (a starved rs may stall often: one line per EXCUSE_LOG_MS). */
  private stalls = { unlogged: 0, longestMs: 0, loggedAt: -Infinity };

  /** minHeartbeatMs: the shortest period of any service (the probe's cadence and promptness follow it). */
  constructor(o: HeartbeatOptions, minHeartbeatMs: number) {
    this.o = o;
    // A null kernel call slower than a quarter of a period is a kernel whose delay can eat
    // a ping's whole period (a ping passes through it twice, besides the service's turn).
    if (o.probe)
      this.gauge = new KernelGauge(
        o.clock,
        o.probe,
        Math.max(50, Math.floor(minHeartbeatMs / 4)),
        Math.max(50, Math.floor(minHeartbeatMs / 2)),
      );
  }

  /** Starts watching label's incarnation (pid), which is serving now. */
  watch(label: string, pid: number, hb: number): void {
    this.watches.get(label)?.timer?.cancel();
    const now = this.o.clock.now();
    const w: Watch = { label, pid, hb, lastAnswer: now, since: now, lastPingAt: now, misses: 0, pings: [], dueAt: now };
    this.watches.set(label, w);
    this.schedule(w);
  }

  stopAll(): void {
    for (const w of this.watches.values()) w.timer?.cancel();
    this.watches.clear();
    this.logTimer?.cancel();
  }

  excused(label: string): number {
    return this.excusedBy.get(label) ?? 0;
  }

  private schedule(w: Watch): void {
    const every = Math.max(1, Math.floor(w.hb / 4));
    w.dueAt = this.o.clock.now() + every;
    w.timer = this.o.clock.setTimeout(() => this.tick(w), every);
  }

  private live(w: Watch): boolean {
    if (this.watches.get(w.label) !== w) return false;
    if (this.o.current(w.label, w.pid)) return true;
    this.watches.delete(w.label);
    return false;
  }

  /** A quarter period: judge what is overdue, send the next ping, see whether it is a hang. */
  private tick(w: Watch): void {
    if (!this.live(w)) return;
    const now = this.o.clock.now();
    // A tick far later than it was due: rs did not run (stopped, or its event loop blocked).
    if (now - w.dueAt > w.hb / 2) this.stalled(now - w.dueAt);
    for (const p of w.pings) if (!p.judged && now - p.sentAt >= w.hb) this.unanswered(w, p);
    w.pings = w.pings.filter((p) => !p.judged);
    if (now - w.lastPingAt >= w.hb / 2) this.send(w);
    this.gauge?.sample();
    this.schedule(w);
    this.checkHang(w);
  }

  private send(w: Watch): void {
    const p: Ping = { sentAt: this.o.clock.now(), epoch: this.epoch, judged: false };
    w.lastPingAt = p.sentAt;
    w.pings.push(p);
    this.o.ping(w.label, w.hb).then(
      () => this.answered(w, p),
      (e: unknown) => {
        if (!this.live(w) || p.judged) return;
        // No answer (ETIMEDOUT), or no live incarnation at the kernel (EDEADSRCDST: it died
        // unseen, or never registered with a restarted kernel), may be the service's fault;
        // the bus or the kernel being away (ENOTREADY) is not.
        if (e instanceof MkError && (e.errno === "ETIMEDOUT" || e.errno === "EDEADSRCDST")) return this.unanswered(w, p);
        p.judged = true;
        this.excuse(w, "kernel away");
      },
    );
  }

  /** Any answer, even one past its ping's deadline, shows the service's event loop turns. */
  private answered(w: Watch, p: Ping): void {
    if (!this.live(w)) return;
    p.judged = true;
    const now = this.o.clock.now();
    Object.assign(w, { lastAnswer: now, since: now, misses: 0 });
  }

  /** p's deadline passed without an answer: held against the service only if rs ran and the kernel answered meanwhile. */
  private unanswered(w: Watch, p: Ping): void {
    // Judged far past its deadline: the timer that should have judged it did not run (a
    // ping's own deadline can fire before the late tick that would have seen the stall).
    const late = this.o.clock.now() - (p.sentAt + w.hb);
    if (late > w.hb / 2) return this.stalled(late); // p is voided with every other ping out
    p.judged = true;
    void this.confirm(w, p);
  }

  private async confirm(w: Watch, p: Ping): Promise<void> {
    const responsive = this.gauge ? await this.gauge.responsive(p.sentAt) : true;
    if (!this.live(w) || w.lastAnswer >= p.sentAt) return; // it answered a later ping meanwhile
    if (p.epoch !== this.epoch) return this.excuse(w, "rs stalled");
    // The kernel being slow excuses the silence only while the others are silent too (the
    // path is what is slow), and for so long: its neighbours answering through the same
    // kernel, or a silence of MAX_EXCUSED_PERIODS, is the service's own.
    const excusable =
      !responsive && !this.neighboursAnswered(w, p.sentAt) && this.o.clock.now() - w.lastAnswer < MAX_EXCUSED_PERIODS * w.hb;
    if (excusable) return this.excuse(w, "kernel slow");
    w.misses++;
    this.checkHang(w);
  }

  /** At least half of the other services watched answered a ping since `since`. */
  private neighboursAnswered(w: Watch, since: number): boolean {
    const others = [...this.watches.values()].filter((x) => x !== w);
    return others.length > 0 && others.filter((x) => x.lastAnswer >= since).length * 2 >= others.length;
  }

  private checkHang(w: Watch): void {
    const now = this.o.clock.now();
    if (w.misses < MISSES_FOR_HANG || now - w.since < 2 * w.hb || !this.live(w)) return;
    this.watches.delete(w.label);
    w.timer?.cancel();
    this.o.onHang(w.label, w.pid, `heartbeat (no answer for ${now - w.lastAnswer} ms) to ${w.misses} pings`, w.lastAnswer);
  }

  /** rs was stalled for about lateMs: every ping out is voided, and every service's evidence starts again. */
  private stalled(lateMs: number): void {
    this.epoch++;
    let voided = 0;
    for (const w of this.watches.values()) {
      for (const p of w.pings) {
        if (p.judged) continue;
        p.judged = true;
        voided++;
        this.count(w, "rs stalled");
      }
      Object.assign(w, { misses: 0, since: this.o.clock.now() });
    }
    const st = this.stalls;
    st.unlogged++;
    st.longestMs = Math.max(st.longestMs, Math.round(lateMs));
    if (this.o.clock.now() - st.loggedAt < EXCUSE_LOG_MS) return;
    this.o
      .log()
      .warn(
        { stalls: st.unlogged, longestMs: st.longestMs, voided },
        "rs was stalled (%d times since the last line; a timer of its fired up to %d ms late): the pings out meanwhile are not held against their services; heartbeat evidence starts again",
        st.unlogged,
        st.longestMs,
      );
    Object.assign(st, { unlogged: 0, longestMs: 0, loggedAt: this.o.clock.now() });
  }

  private excuse(w: Watch, why: Excuse): void {
    Object.assign(w, { misses: 0, since: this.o.clock.now() });
    this.count(w, why);
  }

  private count(w: Watch, why: Excuse): void {
    this.excusedBy.set(w.label, this.excused(w.label) + 1);
    this.unlogged.set(why, (this.unlogged.get(why) ?? 0) + 1);
    const wait = this.loggedAt + EXCUSE_LOG_MS - this.o.clock.now();
    if (wait <= 0) this.logExcuses();
    else this.logTimer ??= this.o.clock.setTimeout(() => this.logExcuses(), wait);
  }

  private logExcuses(): void {
    this.logTimer?.cancel();
    this.logTimer = undefined;
    if (this.unlogged.size === 0) return;
    const by = Object.fromEntries(this.unlogged);
    const n = [...this.unlogged.values()].reduce((a, b) => a + b, 0);
    this.unlogged = new Map();
    this.loggedAt = this.o.clock.now();
    const reasons = Object.entries(by)
      .map(([why, k]) => `${k} ${why}`)
      .join(", ");
    this.o.log().warn({ excused: by }, "%d heartbeat misses excused (%s): not held against the services", n, reasons);
  }
}
