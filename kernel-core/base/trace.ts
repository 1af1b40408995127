// One request followed end to end: the W3C trace context (`traceparent`) of the request a
// server is handling is kept in async context, so every call it makes on that request's
// behalf (a driver's kernel calls, the kernel's bus requests) carries the same trace id
// with a span of its own. A request that arrives without one starts a new trace.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { addHop } from "#abi";
import { systemClock } from "./clock.ts";

const current = new AsyncLocalStorage<string>();
/** The hop trails of the calls made on behalf of the request being handled. */
const calls = new AsyncLocalStorage<string[]>();
const MAX_CALLS = 16;

/** Runs fn collecting, into `into`, the hop trails of the calls it makes (at most 16). */
export function withCalls<T>(into: string[], fn: () => T): T {
  return calls.run(into, fn);
}

/**
 * A call made on behalf of the request in force came back with this trail (and its own
 * calls'). `back`: the caller, stamped as it takes the reply, so the trail shows the
 * answer's way back too (the reply's last hop).
 */
export function noteCall(hops: string | undefined, nested: string | undefined, back?: string): void {
  const into = calls.getStore();
  if (!into || !hops) return;
  const own = back ? addHop(hops, back, systemClock.nowUs()) : hops;
  for (const t of [own, ...(nested ? nested.split(";") : [])]) if (into.length < MAX_CALLS) into.push(t);
}

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

/**
 * A traceparent for an outgoing call: the current trace with a new span and its flags, or a
 * new trace that is not sampled (flags 00). A sampled one (01: `mkctl trace`, or a caller
 * that asks) has every server on its way send back the trails of the calls it made for it.
 */
export function childTrace(parent = currentTrace()): string {
  return parent ? `00-${traceId(parent)}-${hex(8)}-${parent.slice(-2)}` : `00-${hex(16)}-${hex(8)}-00`;
}

/** A new sampled trace: what `mkctl trace` sends. */
export function sampledTrace(): string {
  return `00-${hex(16)}-${hex(8)}-01`;
}

/** Whether the request asked for its calls' trails (the sampled flag of W3C trace context). */
export function isSampled(traceparent: string | undefined): boolean {
  return traceparent?.endsWith("-01") === true;
}
