// Injected time. Timers, heartbeats and backoff take a Clock so tests move time by hand.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Monotonic microseconds, for latency and hop stamps. */
  nowUs(): number;
  /** A background timer: it does not keep the process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Waits ms; unlike a background timer, the wait keeps the process alive. */
  sleep(ms: number): Promise<void>;
}

const ORIGIN = performance.timeOrigin; // a getter: read once, not per message

export const systemClock: Clock = {
  now: () => Date.now(),
  nowUs: () => (ORIGIN + performance.now()) * 1000,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A clock that moves only when told to: `advance(ms)` fires the timers that fall due. */
export class ManualClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; seq: number }[] = [];
  private seq = 0;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  nowUs(): number {
    return this.t * 1000;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.t + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((x) => x !== timer)) };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.setTimeout(r, ms));
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
  }
  /**
   * Moves time forward and fires nothing: the process was stopped (SIGSTOP). The timers
   * that fell due fire late, at the next advance or step, as Node's after a SIGCONT.
   */
  jump(ms: number): void {
    this.t += ms;
  }
  /**
   * Fires the earliest timer already due, if there is one (false: none). A test steps
   * through the overdue timers and runs the microtasks between two, as Node's timers
   * phase does before it reads any socket.
   */
  step(): boolean {
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!due) return false;
    this.timers = this.timers.filter((x) => x !== due);
    due.fn();
    return true;
  }
  pending(): number {
    return this.timers.length;
  }
}
