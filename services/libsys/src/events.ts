// Following the kernel event stream (mk.ev.>): how rs, chaos, procfs and the dashboard
// see the system. Events travel at most once (NATS core), so each is numbered per kernel
// boot; the follower reports a gap (events lost, e.g. across a NATS outage) and a kernel
// restart, and the reader then reads the endpoint table again instead of guessing.
import {
  decodeKernelStat,
  decodeRsEvent,
  MkError,
  RsEventSubjects,
  StatSubjects,
  type KernelEvent,
  type KernelStat,
  type RsEvent,
} from "#abi";
import type { Sys } from "./sys.ts";

export interface EventContext {
  /** Events of this boot that never arrived before this one (0 mostly). */
  readonly missed: number;
  /** This event is the first seen from a new kernel boot (kernel-core restarted). */
  readonly newBoot: boolean;
}

export interface EventFollower {
  stop(): void;
  /** Events received, and events known lost (gaps in seq), so far. */
  readonly received: number;
  readonly missed: number;
}

/**
 * Calls fn for every kernel event from now on, telling it what it may have missed.
 * Rejects with ECALLDENIED when the service lacks the events privilege.
 */
export async function followEvents(sys: Sys, fn: (ev: KernelEvent, ctx: EventContext) => void): Promise<EventFollower> {
  let boot: string | undefined;
  let next = 0;
  const stats = { received: 0, missed: 0 };
  const sub = await sys.transport.events((ev) => {
    stats.received++;
    const newBoot = boot !== undefined && ev.boot !== boot;
    let missed = 0;
    if (boot === ev.boot && ev.seq > next) missed = ev.seq - next;
    if (ev.boot !== boot || ev.seq >= next) {
      boot = ev.boot;
      next = ev.seq + 1;
    }
    stats.missed += missed;
    fn(ev, { missed, newBoot });
  });
  return {
    stop: () => sub.stop(),
    get received() {
      return stats.received;
    },
    get missed() {
      return stats.missed;
    },
  };
}

/** Follows rs's events (mk.rs.ev.>): every supervised service's state as rs sees it. */
export async function followRsEvents(sys: Sys, fn: (ev: RsEvent) => void): Promise<{ stop(): void }> {
  if (!sys.transport.stream) throw new MkError("ENOSYS", "rs's events are read over NATS (user placement) only");
  return sys.transport.stream(RsEventSubjects.all, (data) => fn(decodeRsEvent(data)));
}

/** Follows the kernel's statistics (mk.stat, once a second); needs `metrics: true`. */
export async function followStats(sys: Sys, fn: (s: KernelStat) => void): Promise<{ stop(): void }> {
  if (!sys.transport.stream) throw new MkError("ENOSYS", "the kernel's statistics are read over NATS (user placement) only");
  return sys.transport.stream(StatSubjects.stat, (data) => fn(decodeKernelStat(data)));
}
