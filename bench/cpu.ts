// CPU time per request, by process: what each party spends on one crossing, next to the
// latency it adds up to. Other processes are read from /proc/<pid>/stat (user + system
// time, in clock ticks) around every batch; the benchmark's own process, the client of
// every path, from process.cpuUsage(). Linux and process mode only: in compose mode the
// parties' /proc is in other containers.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const CLIENT = "client";

function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, in µs; undefined once it is gone. */
function processCpuUs(pid: number, usPerTick: number): number | undefined {
  try {
    // Fields after the command (which may hold spaces) start at state: utime is the 12th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * usPerTick;
  } catch {
    return undefined;
  }
}

export class CpuMeter {
  readonly parties: string[];
  private readonly pids: number[];
  private readonly usPerTick: number;
  private readonly totals = new Map<string, Float64Array>();
  private readonly counts = new Map<string, number>();

  /** parties: name -> pid of the other processes to account (nats-server, kernel-core, ...). */
  constructor(parties: Record<string, number>) {
    this.parties = [CLIENT, ...Object.keys(parties)];
    this.pids = Object.values(parties);
    this.usPerTick = 1e6 / clockTicksPerSecond();
  }

  private read(): Float64Array {
    const u = process.cpuUsage();
    const out = new Float64Array(this.parties.length);
    out[0] = u.user + u.system;
    this.pids.forEach((pid, i) => (out[i + 1] = processCpuUs(pid, this.usPerTick) ?? Number.NaN));
    return out;
  }

  /** Runs one batch of `n` requests of `path` and adds what every party spent to its total. */
  async measure(path: string, n: number, batch: () => Promise<void>): Promise<void> {
    const before = this.read();
    await batch();
    const after = this.read();
    let t = this.totals.get(path);
    if (!t) this.totals.set(path, (t = new Float64Array(this.parties.length)));
    for (let i = 0; i < t.length; i++) t[i] += after[i] - before[i];
    this.counts.set(path, (this.counts.get(path) ?? 0) + n);
  }

  /** µs of CPU per request of `path`, by party (a party that exited reads NaN and is left out). */
  perRequest(path: string): Record<string, number> {
    const t = this.totals.get(path);
    const n = this.counts.get(path) ?? 0;
    if (!t || n === 0) return {};
    const out: Record<string, number> = {};
    this.parties.forEach((name, i) => {
      if (Number.isFinite(t[i])) out[name] = Math.round(t[i] / n);
    });
    return out;
  }
}
