// One request followed through every hop (mkctl trace, the dashboard's waterfall). The
// request goes out under a sampled W3C trace (flags 01), so each server on its way sends
// back, with its reply, the hop trails of the calls it made for it (Mk-Calls); the reply's
// own trail (Mk-Hops) and those are laid out on one time line, each segment a hop's
// transit plus the next party's work up to its stamp. Stamps are each process's clock in
// µs: one host (or containers sharing its kernel).
import { Common, EMPTY, MkError, parseHops, Vfs } from "#abi";
import { sampledTrace, withTrace } from "#base/trace.ts";
import { sysWaitEndpoint } from "./calls/sys-getinfo.ts";
import type { Sys } from "./sys.ts";

interface Segment {
  from: string;
  to: string;
  start_us: number;
  us: number;
  /** 0: the request itself; 1: a call a server made for it; 2: a call made for that one ... */
  depth: number;
}

export interface TraceResult {
  request: string;
  /** The incarnation the request went to. */
  to: string;
  runs: number;
  /** The median run's round trip, and its hops. */
  total_us: number;
  hops: Segment[];
}

export type TraceKind = "ping" | "stat";
/** How long one run may wait for its answer: a trace follows a request, it does not wait out a hung server. */
const TRACE_RUN_TIMEOUT_MS = 5000;
/** Runs of one trace: enough for a median, bounded so a trace is never a flood. */
export const TRACE_MAX_RUNS = 1000;

/**
 * A reply's trails as segments on one time line, the calls nested under the request. The
 * order is the trails' own (causal: a party stamps after the one before it), each call's
 * trail placed under the request's segment that reaches the server which made it, never
 * an order of stamps: the parties' clocks are their own. The stamps are the parties' word
 * too: each segment is clamped into the run (0..totalUs), so a hostile server's far-off
 * stamp cannot make a reader draw or allocate without bound.
 */
function segments(hops: string | undefined, calls: string | undefined, endUs: number, totalUs: number): Segment[] {
  const of = (trail: string | undefined, depth: number, end?: { who: string; us: number }): Segment[] => {
    const h = parseHops(trail);
    if (end) h.push(end);
    const out: Segment[] = [];
    for (let i = 1; i < h.length; i++)
      out.push({ from: h[i - 1].who, to: h[i].who, start_us: h[i - 1].us, us: h[i].us - h[i - 1].us, depth });
    return out;
  };
  const top = of(hops, 0, { who: "client", us: endUs });
  const nested = (calls ?? "")
    .split(";")
    .filter(Boolean)
    .map((t) => of(t, 1));
  const out: Segment[] = [];
  for (const s of top) {
    out.push(s);
    // The calls made by the party this segment reaches, while it worked on the request.
    for (const n of nested) if (n.length > 0 && n[0].from === s.to && !out.includes(n[0])) out.push(...n);
  }
  for (const n of nested) if (n.length > 0 && !out.includes(n[0])) out.push(...n);
  const t0 = out.length > 0 ? Math.min(...out.map((s) => s.start_us)) : 0;
  const within = (v: number) => Math.min(Math.max(0, v), Math.max(0, totalUs));
  return out.map((s) => ({ ...s, start_us: within(s.start_us - t0), us: within(s.us) }));
}

/**
 * `ping LABEL` (COMMON_PING to its live incarnation) or `stat PATH` (VFS_STAT to vfs), `runs`
 * times, one after another; the median run hop by hop. Named by incarnation, the request
 * takes the path the privilege table gives the pair.
 */
export async function traceRequest(
  sys: Sys,
  what: TraceKind,
  target: string,
  runs: number,
  o: { deadlineMs?: number } = {},
): Promise<TraceResult> {
  if (!Number.isInteger(runs) || runs < 1 || runs > TRACE_MAX_RUNS)
    throw new MkError("EINVAL", `a trace takes 1..${TRACE_MAX_RUNS} runs, not ${runs}`, { detail: { arg: "count" } });
  const label = what === "ping" ? target : "vfs";
  const dst = (await sysWaitEndpoint(sys, label, 0, 5000)).endpoint;
  const send = (): Promise<{ hops?: string; calls?: string }> =>
    withTrace(sampledTrace(), () =>
      what === "ping"
        ? sys.sendrec(dst, Common.COMMON_PING, {}, EMPTY, TRACE_RUN_TIMEOUT_MS)
        : sys.sendrec(dst, Vfs.VFS_STAT, { path: target }, EMPTY, TRACE_RUN_TIMEOUT_MS),
    );
  const done: { us: number; segs: Segment[] }[] = [];
  const until = o.deadlineMs === undefined ? Number.POSITIVE_INFINITY : sys.clock.now() + o.deadlineMs;
  // The runs end at the deadline, if one is given (at least one run is made).
  for (let i = 0; i < runs && (i === 0 || sys.clock.now() < until); i++) {
    const t0 = sys.clock.nowUs();
    const r = await send();
    const end = sys.clock.nowUs();
    done.push({ us: end - t0, segs: segments(r.hops, r.calls, end, Math.round(end - t0)) });
  }
  const median = [...done].sort((a, b) => a.us - b.us)[Math.floor(done.length / 2)];
  return { request: `${what} ${target}`, to: dst, runs: done.length, total_us: Math.round(median.us), hops: median.segs };
}
