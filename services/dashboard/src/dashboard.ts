// The dashboard as an mkos service: it registers like any other (rs keeps it up and
// pings it), follows the kernel's events, rs's events and the kernel's statistics into
// the model, asks rs for its list and the workload for its counts now and then, and
// shares one console subscription among every terminal open in a page.
import { parseReplyArgs, Rs, Workload, type RsEvent } from "#abi";
import {
  attachConsole,
  followEvents,
  followRsEvents,
  followStats,
  sysGetEndpoints,
  type ConsoleLine,
  type Server,
  type ServiceModule,
  type Sys,
  type SystemTable,
  type Timer,
} from "#libsys";
import { Actions, WORKLOAD_LABEL } from "./actions.ts";
import type { ConsoleHub } from "./http.ts";
import type { Model } from "./model.ts";

const POLL_MS = 1000;
const RS_LIST_MS = 5000;

export class Dashboard {
  readonly model: Model;
  readonly table: SystemTable;
  actions?: Actions;
  private line?: ConsoleLine;
  private readonly outputs = new Set<(bytes: Uint8Array) => void>();
  private timer?: Timer;
  private lastRsList = 0;
  private followed = false;

  constructor(table: SystemTable, model: Model) {
    this.table = table;
    this.model = model;
  }

  module(): ServiceModule {
    return {
      label: "dashboard",
      create: (sys): Server => {
        this.actions = new Actions(sys, this.table);
        const init = async () => {
          await this.follow(sys);
          await this.refresh(sys);
        };
        return { handlers: {}, initFresh: init, initRestart: init, initKernelRestart: async () => this.refresh(sys) };
      },
    };
  }

  /** The streams, once per process (NATS keeps the subscriptions across reconnects). */
  private async follow(sys: Sys): Promise<void> {
    if (this.followed) return;
    this.followed = true;
    await followEvents(sys, (ev, ctx) => {
      if (ctx.missed > 0 || ctx.newBoot) void this.refresh(sys);
      this.model.onKernelEvent(ev);
    });
    await followRsEvents(sys, (ev: RsEvent) => this.model.onRsEvent(ev));
    await followStats(sys, (s) => this.model.onStat(s));
    this.line = await attachConsole(sys, (bytes) => {
      for (const fn of this.outputs) fn(bytes);
    });
    const tick = () => {
      void this.poll(sys).finally(() => (this.timer = sys.clock.setTimeout(tick, POLL_MS)));
    };
    tick();
  }

  /** The endpoint table and rs's list: at start, after missed events and after a kernel restart. */
  private async refresh(sys: Sys): Promise<void> {
    try {
      this.model.applyEndpoints(await sysGetEndpoints(sys));
    } catch (e) {
      sys.log.debug({ err: (e as Error).message }, "endpoint table not read");
    }
    await this.rsList(sys);
  }

  private async rsList(sys: Sys): Promise<void> {
    this.lastRsList = sys.clock.now();
    try {
      const r = await sys.sendrec("rs", Rs.RS_LIST, {}, undefined, 2000);
      this.model.applyRsList(r.args.services);
    } catch (e) {
      sys.log.debug({ err: (e as Error).message }, "rs's list not read");
    }
  }

  private async poll(sys: Sys): Promise<void> {
    if (sys.clock.now() - this.lastRsList >= RS_LIST_MS) await this.rsList(sys);
    const state = this.model.state();
    // kernel-core away: nothing can be asked; the last counts stay, and the page shows them as stale.
    if (!state.kernel.up) return;
    const w = state.nodes.find((n) => n.id === WORKLOAD_LABEL);
    if (w?.state !== "ready") {
      this.model.workload = null;
      return;
    }
    try {
      const r = parseReplyArgs(
        Workload.WORKLOAD_STATS,
        (await sys.sendrec(WORKLOAD_LABEL, Workload.WORKLOAD_STATS, {}, undefined, POLL_MS)).args,
      );
      this.model.workload = {
        rate: r.rate,
        ops: r.ops,
        failed: r.failed,
        bytes_verified: r.bytes_verified,
        last_error: r.last_error ?? null,
        at: sys.clock.now(),
      };
    } catch {
      // restarting: the last counts stay until it answers again
    }
  }

  console(): ConsoleHub {
    return {
      write: (bytes) => this.line?.write(bytes),
      listen: (fn) => {
        this.outputs.add(fn);
        return () => this.outputs.delete(fn);
      },
    };
  }

  stop(): void {
    this.timer?.cancel();
    this.line?.stop();
  }
}
