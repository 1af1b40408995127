// mkctl trace: one request followed through every hop. The request goes out under a sampled
// W3C trace (flags 01), so each server on its way sends back, with its reply, the hop trails
// of the calls it made for it (Mk-Calls); the reply's own trail (Mk-Hops) and those are laid
// out on one time line, each segment a hop's transit plus the next party's work up to its
// stamp. Stamps are each process's clock in µs: one host (or containers sharing its kernel).
import { Common, parseHops, Vfs } from "#abi";
import { LocalError } from "#base/errors.ts";
import { textTableLines } from "#base/text-table.ts";
import { sampledTrace, withTrace } from "#base/trace.ts";
import { sysWaitEndpoint, type RunningService } from "#libsys";

export const TRACE_USAGE = `       mkctl trace ping LABEL | stat PATH [--count N] [--json] [--run-dir DIR]   (one request, hop by hop)`;

interface Segment {
  from: string;
  to: string;
  start_us: number;
  us: number;
  /** 0: the request itself; 1: a call a server made for it; 2: a call made for that one ... */
  depth: number;
}

/** A reply's trails as segments on one time line, the calls nested under the request. */
function segments(hops: string | undefined, calls: string | undefined, endUs: number): Segment[] {
  const out: Segment[] = [];
  const add = (trail: string | undefined, depth: number, end?: { who: string; us: number }) => {
    const h = parseHops(trail);
    if (end) h.push(end);
    for (let i = 1; i < h.length; i++)
      out.push({ from: h[i - 1].who, to: h[i].who, start_us: h[i - 1].us, us: h[i].us - h[i - 1].us, depth });
  };
  add(hops, 0, { who: "client", us: endUs });
  for (const t of (calls ?? "").split(";").filter(Boolean)) add(t, 1);
  const t0 = out.length > 0 ? Math.min(...out.map((s) => s.start_us)) : 0;
  return out.map((s) => ({ ...s, start_us: s.start_us - t0 })).sort((a, b) => a.start_us - b.start_us || a.depth - b.depth);
}

function count(raw: string | undefined): number {
  const n = Number(raw ?? "5");
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new LocalError("MK_ERR_USAGE", `mkctl trace --count needs 1..1000, got ${JSON.stringify(raw)}`);
  return n;
}

export async function traceCommand(client: RunningService, args: string[], o: { json: boolean; count?: string }): Promise<void> {
  const [what, target] = args;
  if ((what !== "ping" && what !== "stat") || !target)
    throw new LocalError("MK_ERR_USAGE", `mkctl trace needs ping LABEL or stat PATH\n${TRACE_USAGE}`);
  const sys = client.sys;
  // Named by incarnation, so the request takes the path the table gives the pair.
  const label = what === "ping" ? target : "vfs";
  const dst = (await sysWaitEndpoint(sys, label, 0, 5000)).endpoint;
  const send = (): Promise<{ hops?: string; calls?: string }> =>
    withTrace(sampledTrace(), () =>
      what === "ping" ? sys.sendrec(dst, Common.COMMON_PING, {}) : sys.sendrec(dst, Vfs.VFS_STAT, { path: target }),
    );
  const runs: { us: number; segs: Segment[] }[] = [];
  for (let i = 0, n = count(o.count); i < n; i++) {
    const t0 = sys.clock.nowUs();
    const r = await send();
    const end = sys.clock.nowUs();
    runs.push({ us: end - t0, segs: segments(r.hops, r.calls, end) });
  }
  const median = [...runs].sort((a, b) => a.us - b.us)[Math.floor(runs.length / 2)];
  if (o.json) {
    console.log(
      JSON.stringify({ request: `${what} ${target}`, to: dst, runs: runs.length, total_us: Math.round(median.us), hops: median.segs }),
    );
    return;
  }
  const width = 40;
  const scale = width / Math.max(1, median.us);
  const body = median.segs.map((s) => [
    String(Math.round(s.start_us)),
    String(Math.round(s.us)),
    `${"  ".repeat(s.depth)}${s.from} > ${s.to}`,
    `${" ".repeat(Math.min(width, Math.round(s.start_us * scale)))}${"#".repeat(Math.max(1, Math.round(s.us * scale)))}`,
  ]);
  console.log(`${what} ${target} to ${dst}: ${runs.length} runs, the median one (${Math.round(median.us)} µs) hop by hop`);
  console.log(textTableLines(["START_US", "US", "HOP", ""], body).join("\n"));
  console.log("a hop: its transit plus the next party's work up to its stamp; indented: the calls a server made for the request");
}
