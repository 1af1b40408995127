// The kernel event stream (mk.ev.<kind>.<label>): every lifecycle change of an
// incarnation, and every privilege denial. Events are numbered without gaps per boot; a
// caller can cause denials at will, so those are budgeted per caller and kind, and the
// next one published says how many were left out. Until the kernel is connected the
// events wait in a bounded buffer, so the kernel's own start is not lost.
import {
  baseLabel,
  EventKind,
  EventSubjects,
  MAX_EVENT_BYTES,
  type DeathCause,
  type DenialKind,
  type KernelEvent,
  type ProcessInfo,
} from "#abi";
import type { Clock } from "#base/clock.ts";
import { clip, KeyedBudget } from "#base/log.ts";
import type { EndpointEntry } from "../table/endpoint-table.ts";

/** Where events go: kernel-core's main publishes them on NATS. */
export type EventSink = (subject: string, payload: Uint8Array) => void;

/** Events kept before a sink is attached; past it the oldest are dropped (the seq shows the gap). */
const EARLY_MAX = 256;

const enc = new TextEncoder();

export interface Denial {
  /** The caller's label, and its incarnation when it has one. */
  label: string;
  entry?: EndpointEntry;
  denied: DenialKind;
  /** The call, target label, port or line that was refused. */
  target: string;
  errno: string;
}

export class KernelEvents {
  private readonly clock: Clock;
  private readonly boot: string;
  private readonly denials: KeyedBudget;
  /** Scheduling events per label: a policy flipping settings cannot flood the stream. */
  private readonly schedBudget: KeyedBudget;
  private sink?: EventSink;
  private early: [string, Uint8Array][] = [];
  private seq = 0;
  private readonly listeners = new Set<(ev: KernelEvent) => void>();
  /** Denials left out by the budget. */
  withheld = 0;

  constructor(clock: Clock, boot: string, o: { denialBurst?: number; denialWindowMs?: number } = {}) {
    this.clock = clock;
    this.boot = boot;
    this.denials = new KeyedBudget(clock, { burst: o.denialBurst ?? 10, windowMs: o.denialWindowMs ?? 10_000 });
    this.schedBudget = new KeyedBudget(clock, { burst: 20, windowMs: 10_000 });
  }

  /** From now on events go to sink; those raised before are sent first, in order. */
  attach(sink: EventSink): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const [subject, payload] of early) sink(subject, payload);
  }

  /** In-kernel readers (kernel placement): each event, after the current change is done. */
  listen(fn: (ev: KernelEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  lifecycle(kind: Exclude<EventKind, "denied" | "sched">, e: EndpointEntry, cause?: DeathCause, detail?: string): void {
    this.emit(kind, e.label, { ...who(e), ...(cause ? { cause } : {}), ...(detail ? { detail: clip(detail, 256) } : {}) });
  }

  /** A refused call or message. Budgeted per caller and kind: a flood publishes a few. */
  denial(d: Denial): void {
    // Budgeted by label: fresh instance ids (mkctl.<id>) buy no fresh budget.
    const before = this.denials.admit(`${baseLabel(d.label)}:${d.denied}`);
    if (before === undefined) {
      this.withheld++;
      return;
    }
    const base = d.entry
      ? who(d.entry)
      : { endpoint: d.label, label: d.label, generation: 0, placement: "user" as const, host: "", pid: 0 };
    this.emit(EventKind.DENIED, d.label, {
      ...base,
      denied: d.denied,
      target: clip(d.target, 48),
      errno: d.errno,
      ...(before > 0 ? { suppressed: before } : {}),
    });
  }

  /** A process's scheduling settings changed (the policy, mkctl nice), or whose policy is in force. */
  sched(p: ProcessInfo, detail: string): void {
    if (this.schedBudget.admit(p.label) === undefined) {
      this.withheld++;
      return;
    }
    const generation = Number(p.endpoint.slice(p.endpoint.indexOf("#") + 1)) || 0;
    this.emit(EventKind.SCHED, p.label, {
      endpoint: p.endpoint,
      label: p.label,
      generation,
      placement: p.placement,
      host: "",
      pid: p.pid,
      detail: clip(detail, 256),
      priority: p.priority,
      quantum_ms: p.quantum_ms,
      nice: p.nice,
    });
  }

  private emit(kind: EventKind, label: string, body: Omit<KernelEvent, "kind" | "boot" | "seq" | "ts" | "at">): void {
    const ev: KernelEvent = {
      kind,
      boot: this.boot,
      seq: ++this.seq,
      ts: Math.round(this.clock.nowUs()),
      at: new Date(this.clock.now()).toISOString(),
      ...body,
    };
    let payload = enc.encode(JSON.stringify(ev));
    if (payload.length > MAX_EVENT_BYTES)
      payload = enc.encode(JSON.stringify({ ...ev, detail: clip(ev.detail ?? "", 64), target: clip(ev.target ?? "", 32) }));
    const subject = EventSubjects.event(kind, label);
    for (const fn of this.listeners) queueMicrotask(() => fn(ev));
    if (this.sink) {
      this.sink(subject, payload);
      return;
    }
    this.early.push([subject, payload]);
    if (this.early.length > EARLY_MAX) this.early.shift();
  }
}

function who(e: EndpointEntry): Pick<KernelEvent, "endpoint" | "label" | "generation" | "placement" | "host" | "pid"> {
  return { endpoint: e.key, label: e.label, generation: e.generation, placement: e.placement, host: e.host, pid: e.pid };
}
