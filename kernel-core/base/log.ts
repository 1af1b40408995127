// pino JSON logs to stdout. Every line carries svc and endpoint; message paths add
// msgType and reqId so one request can be followed across services with a grep.
// What one message can make a process log is bounded: text from the wire is clipped
// (`clip`), and events a caller can repeat at will go through a `LogLimiter`.
import { pino, type Logger } from "pino";
import type { Clock } from "./clock.ts";

export type { Logger };

export function createLogger(svc: string, endpoint?: string): Logger {
  return pino({
    level: process.env.MK_LOG_LEVEL ?? "info",
    base: endpoint ? { svc, endpoint, pid: process.pid } : { svc, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Text from the wire, bounded for a log line. */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} chars)`;
}

/**
 * At most `burst` admissions per key in each window of `windowMs`; the rest are counted.
 * Keys are bounded too: past `maxKeys` the oldest is forgotten. When a key's window ends
 * with refusals, `onRefused` hears how many (at the key's next admission, or eviction).
 */
export class KeyedBudget {
  private readonly clock: Clock;
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly windows = new Map<string, { start: number; admitted: number; refused: number }>();

  constructor(clock: Clock, o: { burst?: number; windowMs?: number; maxKeys?: number } = {}) {
    this.clock = clock;
    this.burst = o.burst ?? 10;
    this.windowMs = o.windowMs ?? 10_000;
    this.maxKeys = o.maxKeys ?? 1024;
  }

  /**
   * Admits key if it is under its budget: returns how many of this key were refused in
   * its previous window (0 mostly), or undefined when this one is refused.
   */
  admit(key: string, onRefused: (key: string, refused: number) => void = () => undefined): number | undefined {
    const now = this.clock.now();
    let w = this.windows.get(key);
    let before = 0;
    if (w && now - w.start >= this.windowMs) {
      this.windows.delete(key);
      before = w.refused;
      if (before > 0) onRefused(key, before);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) {
        const [oldest, ow] = this.windows.entries().next().value as [string, { refused: number }];
        this.windows.delete(oldest);
        if (ow.refused > 0) onRefused(oldest, ow.refused);
      }
      this.windows.set(key, (w = { start: now, admitted: 0, refused: 0 }));
    }
    if (w.admitted < this.burst) {
      w.admitted++;
      return before;
    }
    w.refused++;
    return undefined;
  }
}

/**
 * At most `burst` lines per key in each window of `windowMs`; the rest are counted and
 * reported in one line when the key's next window opens. Keys are bounded too: past
 * `maxKeys` the oldest is forgotten (its suppressed count reported first).
 */
export class LogLimiter {
  private readonly budget: KeyedBudget;
  private readonly windowMs: number;

  constructor(clock: Clock, o: { burst?: number; windowMs?: number; maxKeys?: number } = {}) {
    this.budget = new KeyedBudget(clock, o);
    this.windowMs = o.windowMs ?? 10_000;
  }

  /** Runs `emit` if key is under its budget; returns whether it ran. */
  allow(log: Logger, key: string, emit: () => void): boolean {
    const ok = this.budget.admit(key, (k, n) =>
      log.warn({ event: k, suppressed: n, windowMs: this.windowMs }, "%d more lines like %s suppressed", n, k),
    );
    if (ok === undefined) return false;
    emit();
    return true;
  }
}
