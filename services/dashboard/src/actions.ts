// What the dashboard may change, each checked at the edge before anything is done: chaos
// faults (through SYS_KILL and COMMON_FAULT: the kernel checks the dashboard's privileges
// again), hardware faults (SYS_HWFAULT) and the demo workload's rate (WORKLOAD_SET). A
// malformed request is EINVAL naming what was wrong; nothing is half done.
import { Common, EMPTY, f, MkError, parseShape, Workload, WORKLOAD_MAX_RATE, type HwFaultRequest } from "#abi";
import { sysHwfault, sysKill, traceRequest, type Sys, type SystemTable, type TraceResult } from "#libsys";

export const FAULTS = ["kill", "crash", "hang", "slow", "corrupt"] as const;
export const HW_FAULTS = ["bad-sector", "lost-irq", "spurious-irq", "stuck-bsy", "clear"] as const;
export const WORKLOAD_LABEL = "workload";

const ChaosShape = {
  target: f.str(32),
  fault: f.enum(...FAULTS),
  ms: f.opt(f.int(1, 60_000)),
  count: f.opt(f.int(1, 1000)),
} as const;

const HwShape = {
  fault: f.enum(...HW_FAULTS),
  lba: f.opt(f.u32),
  count: f.opt(f.uint(4096)),
} as const;

const RateShape = { rate: f.uint(WORKLOAD_MAX_RATE) } as const;

/** Runs of one trace from the page: a median of a few, never a flood. */
const TRACE_PAGE_MAX_RUNS = 20;
/** A trace from the page makes no new run after this long (each run waits 5 s at most): the next one is not kept waiting. */
const TRACE_PAGE_DEADLINE_MS = 10_000;
const TraceShape = {
  what: f.enum("ping", "stat"),
  target: f.str(255),
  count: f.opt(f.int(1, TRACE_PAGE_MAX_RUNS)),
} as const;

/** A body that is not what the route takes: EINVAL with the parser's reason. */
function parse<S extends Parameters<typeof parseShape>[0]>(shape: S, body: unknown, what: string): ReturnType<typeof parseShape<S>> {
  try {
    return parseShape(shape, body ?? {});
  } catch (e) {
    throw new MkError("EINVAL", `${what}: ${(e as Error).message}`);
  }
}

export class Actions {
  private readonly sys: Sys;
  private readonly table: SystemTable;
  /** A trace under way: the page runs one at a time. */
  private tracing = false;

  constructor(sys: Sys, table: SystemTable) {
    this.sys = sys;
    this.table = table;
  }

  /**
   * Labels a chaos fault may aim at: the services the dashboard may message, but rs: a hung
   * rs has nobody to restart it, and every later fault would go unrepaired.
   */
  targets(): string[] {
    const own = this.table.services.get(this.sys.label);
    return (own?.ipc ?? []).filter((l) => this.table.services.has(l) && l !== "rs");
  }

  async chaos(body: unknown): Promise<string> {
    const a = parse(ChaosShape, body, "chaos");
    if (!this.targets().includes(a.target))
      throw new MkError("EINVAL", `chaos: unknown target ${JSON.stringify(a.target)} (one of ${this.targets().join(", ")})`, {
        detail: { arg: "target" },
      });
    const heartbeat = this.table.services.get(a.target)?.restart.heartbeatMs ?? 1000;
    switch (a.fault) {
      case "kill": {
        const { pid } = await sysKill(this.sys, a.target, "KILL");
        return `SIGKILL to ${a.target} (pid ${pid})`;
      }
      case "hang": {
        const { pid } = await sysKill(this.sys, a.target, "STOP");
        return `SIGSTOP to ${a.target} (pid ${pid}): rs should find the hang within ${2 * heartbeat} ms`;
      }
      case "crash":
        await this.sys.sendrec(a.target, Common.COMMON_FAULT, { fault: "crash" }, EMPTY, 5000);
        // The next request it handles throws: send one, or an idle server would never crash.
        await this.sys.sendrec(a.target, Common.COMMON_PING, {}, EMPTY, 5000).catch(() => undefined);
        return `${a.target} crashed inside a handler`;
      case "slow":
        await this.sys.sendrec(a.target, Common.COMMON_FAULT, { fault: "slow", ms: a.ms ?? 200, count: a.count ?? 5 }, EMPTY, 5000);
        return `${a.target}: the next ${a.count ?? 5} replies ${a.ms ?? 200} ms late`;
      case "corrupt":
        await this.sys.sendrec(a.target, Common.COMMON_FAULT, { fault: "corrupt", count: a.count ?? 3 }, EMPTY, 5000);
        return `${a.target}: the next ${a.count ?? 3} replies corrupted (checksums should catch them)`;
    }
  }

  async hwfault(body: unknown): Promise<string> {
    const a = parse(HwShape, body, "hwfault");
    const req: HwFaultRequest = {
      fault: a.fault,
      ...(a.lba !== undefined ? { lba: a.lba } : {}),
      ...(a.count !== undefined ? { count: a.count } : {}),
    };
    await sysHwfault(this.sys, req);
    return a.fault === "clear" ? "hardware faults cleared" : `${a.fault} armed in the emulator`;
  }

  /**
   * A request of the page's choosing followed hop by hop (what mkctl trace prints): a ping
   * to a label the dashboard may message, or a stat of a path through vfs. One at a time.
   */
  async trace(body: unknown): Promise<TraceResult> {
    const a = parse(TraceShape, body, "trace");
    const own = this.table.services.get(this.sys.label)?.ipc ?? [];
    if (a.what === "ping" && !own.includes(a.target))
      throw new MkError("EINVAL", `trace: cannot ping ${JSON.stringify(a.target)} (one of ${own.join(", ")})`, {
        detail: { arg: "target" },
      });
    if (a.what === "stat" && !a.target.startsWith("/"))
      throw new MkError("EINVAL", `trace: stat needs an absolute path, not ${JSON.stringify(a.target)}`, { detail: { arg: "target" } });
    if (this.tracing) throw new MkError("EAGAIN", "trace: one is already under way; try again when it ends");
    this.tracing = true;
    try {
      return await traceRequest(this.sys, a.what, a.target, a.count ?? 5, { deadlineMs: TRACE_PAGE_DEADLINE_MS });
    } finally {
      this.tracing = false;
    }
  }

  async workloadRate(body: unknown): Promise<number> {
    const a = parse(RateShape, body, "workload");
    const r = await this.sys.sendrec(WORKLOAD_LABEL, Workload.WORKLOAD_SET, { rate: a.rate }, EMPTY, 5000);
    return r.args.rate;
  }
}
