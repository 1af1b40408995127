// mkctl trace: one request followed through every hop, printed as a waterfall (the
// tracing itself is libsys's traceRequest, which the dashboard's latency panel uses too).
import { LocalError } from "#base/errors.ts";
import { textTableLines } from "#base/text-table.ts";
import { traceRequest, TRACE_MAX_RUNS, type RunningService } from "#libsys";

export const TRACE_USAGE = `       mkctl trace ping LABEL | stat PATH [--count N] [--json] [--run-dir DIR]   (one request, hop by hop)`;

function count(raw: string | undefined): number {
  const n = Number(raw ?? "5");
  if (!Number.isInteger(n) || n < 1 || n > TRACE_MAX_RUNS)
    throw new LocalError("MK_ERR_USAGE", `mkctl trace --count needs 1..${TRACE_MAX_RUNS}, got ${JSON.stringify(raw)}`);
  return n;
}

export async function traceCommand(client: RunningService, args: string[], o: { json: boolean; count?: string }): Promise<void> {
  const [what, target] = args;
  if ((what !== "ping" && what !== "stat") || !target)
    throw new LocalError("MK_ERR_USAGE", `mkctl trace needs ping LABEL or stat PATH\n${TRACE_USAGE}`);
  const t = await traceRequest(client.sys, what, target, count(o.count));
  if (o.json) {
    console.log(JSON.stringify(t));
    return;
  }
  const width = 40;
  const scale = width / Math.max(1, t.total_us);
  const body = t.hops.map((s) => [
    String(Math.round(s.start_us)),
    String(Math.round(s.us)),
    `${"  ".repeat(s.depth)}${s.from} > ${s.to}`,
    `${" ".repeat(Math.min(width, Math.round(s.start_us * scale)))}${"#".repeat(Math.min(width, Math.max(1, Math.round(s.us * scale))))}`,
  ]);
  console.log(`${what} ${target} to ${t.to}: ${t.runs} runs, the median one (${t.total_us} µs) hop by hop`);
  console.log(textTableLines(["START_US", "US", "HOP", ""], body).join("\n"));
  console.log("a hop: its transit plus the next party's work up to its stamp; indented: the calls a server made for the request");
}
