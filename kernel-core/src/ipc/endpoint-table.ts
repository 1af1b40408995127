// The endpoint table: one row per incarnation, label#generation. A new incarnation gets
// generation+1 and supersedes the old one; a message for a dead or stale endpoint is
// refused with EDEADSRCDST at once. Waiters can block for the next ready generation.
import { MkError, type EndpointInfo } from "#abi";
import type { Clock } from "#base/clock.ts";

export type EndpointState = EndpointInfo["state"];

export interface EndpointEntry {
  readonly label: string;
  readonly generation: number;
  readonly key: string; // label#generation
  state: EndpointState;
  readonly placement: "kernel" | "user";
  readonly pid: number;
  readonly host: string;
  readonly cid: number; // NATS client id, 0 in kernel placement
  since: number;
  messages: number;
}

interface Waiter {
  after: number;
  resolve: (e: EndpointEntry) => void;
}

export type DeathListener = (entry: EndpointEntry, cause: string) => void;

export class EndpointTable {
  private readonly current = new Map<string, EndpointEntry>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly deathListeners: DeathListener[] = [];
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  onDeath(fn: DeathListener): void {
    this.deathListeners.push(fn);
  }

  /** Registers a new incarnation of label; the previous one, if any, is dead from now on. */
  incarnate(label: string, p: { placement: "kernel" | "user"; pid: number; host: string; cid: number }): { entry: EndpointEntry; previous: number } {
    const prev = this.current.get(label);
    const previous = prev?.generation ?? 0;
    if (prev && prev.state !== "dead") this.markDead(prev, "superseded by a new incarnation");
    const generation = previous + 1;
    const entry: EndpointEntry = {
      label, generation, key: `${label}#${generation}`, state: "starting",
      placement: p.placement, pid: p.pid, host: p.host, cid: p.cid, since: this.clock.now(), messages: 0,
    };
    this.current.set(label, entry);
    return { entry, previous };
  }

  /** The starting incarnation finished init: it serves now; wake those waiting for it. */
  ready(entry: EndpointEntry): void {
    if (entry.state !== "starting") return;
    entry.state = "ready";
    entry.since = this.clock.now();
    const ws = this.waiters.get(entry.label);
    if (!ws) return;
    for (const w of [...ws]) {
      if (entry.generation > w.after) {
        ws.delete(w);
        w.resolve(entry);
      }
    }
  }

  markDead(entry: EndpointEntry, cause: string): void {
    if (entry.state === "dead") return;
    entry.state = "dead";
    entry.since = this.clock.now();
    for (const fn of this.deathListeners) fn(entry, cause);
  }

  /** The live incarnation that owns a NATS connection id. */
  byCid(cid: number): EndpointEntry | undefined {
    if (cid === 0) return undefined;
    for (const e of this.current.values()) if (e.cid === cid && e.state !== "dead") return e;
    return undefined;
  }

  get(label: string): EndpointEntry | undefined {
    return this.current.get(label);
  }

  /**
   * Resolves a destination. generation 0 means "the current one". Dead, stale or never
   * started endpoints are EDEADSRCDST, never a timeout.
   */
  resolve(label: string, generation: number): EndpointEntry {
    const e = this.current.get(label);
    if (!e) throw new MkError("EDEADSRCDST", `${label} has no incarnation`);
    if (generation !== 0 && generation !== e.generation) {
      throw new MkError("EDEADSRCDST", `${label}#${generation} is stale: current is ${e.key}${e.state === "dead" ? " (dead)" : ""}`);
    }
    if (e.state === "dead") throw new MkError("EDEADSRCDST", `${e.key} is dead`);
    return e;
  }

  /** Waits until an incarnation of label newer than `after` is ready, up to ms. */
  waitReady(label: string, after: number, ms: number): Promise<EndpointEntry> {
    const e = this.current.get(label);
    if (e && e.state === "ready" && e.generation > after) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(label);
      if (!set) this.waiters.set(label, (set = new Set()));
      const timer = this.clock.setTimeout(() => {
        set.delete(w);
        reject(new MkError("ETIMEDOUT", `no ready incarnation of ${label} after generation ${after} within ${ms} ms`));
      }, ms);
      const w: Waiter = { after, resolve: (x) => { timer.cancel(); resolve(x); } };
      set.add(w);
    });
  }

  list(): EndpointInfo[] {
    return [...this.current.values()]
      .sort((a, b) => a.label.localeCompare(b.label))
      .map((e) => ({
        endpoint: e.key, label: e.label, generation: e.generation, state: e.state, placement: e.placement,
        pid: e.pid, host: e.host, since: e.since, messages: e.messages,
      }));
  }
}
