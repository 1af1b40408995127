// Waiting is named: waitUntil polls a condition on an injected clock until it yields a
// value or the deadline passes, then fails with an error that says what was awaited.
// Every poll loop in mkos goes through here (no bare sleep loops).
import type { Clock } from "./clock.ts";
import { LocalError } from "./errors.ts";

export interface WaitOptions {
  clock: Clock;
  /** Give up after this many ms. */
  deadlineMs: number;
  /** What is awaited, for the error: "kernel-core ready at http://...". */
  what: string;
  /** Pause between tries (ms); default 50. */
  intervalMs?: number;
}

/** MK_ERR_WAIT_TIMEOUT: `what` did not happen within `deadlineMs`; `cause` is the last failure seen. */
export class WaitTimeoutError extends LocalError<"MK_ERR_WAIT_TIMEOUT"> {
  readonly what: string;
  readonly deadlineMs: number;
  constructor(what: string, ms: number, last?: unknown) {
    super(
      "MK_ERR_WAIT_TIMEOUT",
      `${what}: not within ${ms} ms${last ? ` (last: ${(last as Error)?.message ?? String(last)})` : ""}`,
      last === undefined ? undefined : { cause: last },
    );
    this.name = "WaitTimeoutError";
    this.what = what;
    this.deadlineMs = ms;
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

/** MK_ERR_STOP_WAITING, thrown from a check: stop waiting now and fail with `cause`. */
export class StopWaiting extends LocalError<"MK_ERR_STOP_WAITING"> {
  constructor(cause: unknown) {
    super("MK_ERR_STOP_WAITING", "stop waiting", { cause });
    this.name = "StopWaiting";
  }
}
