// One request followed end to end: the W3C trace context (`traceparent`) of the request a
// server is handling is kept in async context, so every call it makes on that request's
// behalf (a driver's kernel calls, the kernel's bus requests) carries the same trace id
// with a span of its own. A request that arrives without one starts a new trace.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

const current = new AsyncLocalStorage<string>();

/** Runs fn as part of the trace `traceparent` (undefined: no trace in force). */
export function withTrace<T>(traceparent: string | undefined, fn: () => T): T {
  return traceparent ? current.run(traceparent, fn) : fn();
}

/** The traceparent in force, if any. */
export function currentTrace(): string | undefined {
  return current.getStore();
}

/** The trace id (32 hex digits) of a traceparent. */
function traceId(traceparent: string): string {
  return traceparent.slice(3, 35);
}

// Ids come from a pool of random bytes filled 4 KiB at a time: one call per trap would
// otherwise cost a system call on the hot path.
let pool = Buffer.alloc(0);
let at = 0;
function hex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  at += bytes;
  return pool.toString("hex", at - bytes, at);
}

/** A traceparent for an outgoing call: the current trace with a new span, or a new trace. */
export function childTrace(parent = currentTrace()): string {
  return parent ? `00-${traceId(parent)}-${hex(8)}-01` : `00-${hex(16)}-${hex(8)}-01`;
}
