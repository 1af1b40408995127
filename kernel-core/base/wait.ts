// Waiting is named: waitUntil polls a condition on an injected clock until it yields a
// value or the deadline passes, then fails with an error that says what was awaited.
// Every poll loop in mkos goes through here (no bare sleep loops).
import type { Clock } from "./clock.ts";

export interface WaitOptions {
  clock: Clock;
  /** Give up after this many ms. */
  deadlineMs: number;
  /** What is awaited, for the error: "kernel-core ready at http://...". */
  what: string;
  /** Pause between tries (ms); default 50. */
  intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  readonly code = "EWAITTIMEOUT";
  constructor(what: string, ms: number, last?: unknown) {
    super(`${what}: not within ${ms} ms${last ? ` (last: ${(last as Error)?.message ?? String(last)})` : ""}`);
    this.name = "WaitTimeoutError";
  }
}

/**
 * Resolves with the first value of check() that is not undefined. A check that throws is
 * tried again (its error is reported if the deadline passes); one that throws a
 * `StopWaiting` ends the wait with that error's cause at once.
 */
export async function waitUntil<T>(check: () => Promise<T | undefined> | T | undefined, o: WaitOptions): Promise<T> {
  const start = o.clock.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof StopWaiting) throw e.cause;
      last = e;
    }
    if (o.clock.now() - start >= o.deadlineMs) throw new WaitTimeoutError(o.what, o.deadlineMs, last);
    await o.clock.sleep(o.intervalMs ?? 50);
  }
}

/** Thrown from a check: stop waiting now and fail with `cause`. */
export class StopWaiting extends Error {
  constructor(cause: unknown) {
    super("stop waiting", { cause });
    this.name = "StopWaiting";
  }
}
