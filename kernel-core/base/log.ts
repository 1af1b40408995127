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

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}

/**
 * At most `burst` lines per key in each window of `windowMs`; the rest are counted and
 * reported in one line when the key's next window opens. Keys are bounded too: past
 * `maxKeys` the oldest is forgotten (its suppressed count reported first).
 */
export class LogLimiter {
  private readonly clock: Clock;
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly windows = new Map<string, Window>();
  suppressedTotal = 0;

  constructor(clock: Clock, o: { burst?: number; windowMs?: number; maxKeys?: number } = {}) {
    this.clock = clock;
    this.burst = o.burst ?? 10;
    this.windowMs = o.windowMs ?? 10_000;
    this.maxKeys = o.maxKeys ?? 1024;
  }

  /** Runs `emit` if key is under its budget; returns whether it ran. */
  allow(log: Logger, key: string, emit: () => void): boolean {
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w && now - w.start >= this.windowMs) {
      this.flush(log, key, w);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) {
        const [oldest, ow] = this.windows.entries().next().value as [string, Window];
        this.flush(log, oldest, ow);
      }
      this.windows.set(key, (w = { start: now, logged: 0, suppressed: 0 }));
    }
    if (w.logged < this.burst) {
      w.logged++;
      emit();
      return true;
    }
    w.suppressed++;
    this.suppressedTotal++;
    return false;
  }

  private flush(log: Logger, key: string, w: Window): void {
    this.windows.delete(key);
    if (w.suppressed > 0) log.warn({ event: key, suppressed: w.suppressed, windowMs: this.windowMs }, "%d more lines like %s suppressed", w.suppressed, key);
  }
}
