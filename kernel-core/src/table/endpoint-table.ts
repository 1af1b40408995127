// The endpoint table: one row per incarnation, label#generation. A new incarnation gets
// the label's highest generation so far plus one and supersedes the old one; a message for
// a dead or stale endpoint is refused with EDEADSRCDST at once. Generations never go
// backwards: not when a client's row is forgotten, and not across a kernel-core restart
// (the high-water marks are kept in a GenerationStore), so `label#g` names one
// incarnation forever. Waiters can block for the next ready generation.
import { baseLabel, DeathCause, EventKind, MkError, type EndpointInfo } from "#abi";
import type { Clock } from "#base/clock.ts";

type EndpointState = EndpointInfo["state"];

export interface EndpointEntry {
  readonly label: string;
  readonly generation: number;
  readonly key: string; // label#generation
  state: EndpointState;
  readonly placement: "kernel" | "user";
  readonly pid: number;
  readonly host: string;
  readonly conn: string; // the nonce its NATS connection is named by (`<label>.<conn>`); "" in kernel placement
  since: number;
  messages: number;
}

interface Waiter {
  after: number;
  owner?: string; // the incarnation that waits: dropped when it dies
  resolve: (e: EndpointEntry) => void;
  reject: (e: MkError) => void;
}

/** Waiters for a next generation, all labels together: past this, EAGAIN. */
const MAX_WAITERS = 4096;

/**
 * Where the highest generation of each label outlives kernel-core (a file in its state
 * directory). `keep` says which labels are kept: those of the privilege table.
 */
export interface GenerationStore {
  load(): Map<string, number>;
  save(marks: ReadonlyMap<string, number>): void;
  keep(label: string): boolean;
  /** The marks outlive kernel-core (a file): then they bound what a resume may claim. */
  readonly persistent?: boolean;
}

/** The most a generation may be: `label#g` spells g in at most nine digits. */
export const MAX_GENERATION = 999_999_999;

/** A lifecycle change: started, resumed, ready, or dead with its cause. */
export type ChangeListener = (
  kind: Exclude<EventKind, "denied" | "sched">,
  entry: EndpointEntry,
  cause?: DeathCause,
  detail?: string,
) => void;

export class EndpointTable {
  private readonly current = new Map<string, EndpointEntry>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners: ChangeListener[] = [];
  private readonly clock: Clock;
  private waiterCount = 0;
  /** The highest generation each label has had (a forgotten row's too; an earlier boot's too, with a store). */
  private readonly marks: Map<string, number>;
  private readonly store?: GenerationStore;

  constructor(clock: Clock, store?: GenerationStore) {
    this.clock = clock;
    this.store = store;
    this.marks = store?.load() ?? new Map();
  }

  /** The label's highest generation so far (0: never had one). */
  highWater(label: string): number {
    return Math.max(this.marks.get(label) ?? 0, this.current.get(label)?.generation ?? 0);
  }

  private raise(label: string, generation: number): void {
    if (generation <= (this.marks.get(label) ?? 0)) return;
    // Labels outside the store's keeping (a command-line tool's one-off instances) are never reused: not remembered.
    if (this.store && !this.store.keep(label)) return;
    this.marks.set(label, generation);
    this.store?.save(this.marks);
  }

  onChange(fn: ChangeListener): void {
    this.listeners.push(fn);
  }

  /**
   * Tells every listener, even when one throws (the first error is thrown after all ran): a
   * listener's bug must not leave another part of the kernel unaware of the change.
   */
  private changed(kind: Exclude<EventKind, "denied" | "sched">, entry: EndpointEntry, cause?: DeathCause, detail?: string): void {
    let failed: { e: unknown } | undefined;
    for (const fn of this.listeners) {
      try {
        fn(kind, entry, cause, detail);
      } catch (e) {
        failed ??= { e };
      }
    }
    if (failed) throw failed.e;
  }

  /**
   * Registers a new incarnation of label; the previous one, if any, is dead from now on.
   * `previous` is the label's last generation (0 for a first start), whether or not its row is still here.
   */
  incarnate(
    label: string,
    p: { placement: "kernel" | "user"; pid: number; host: string; conn: string },
  ): { entry: EndpointEntry; previous: number } {
    const prev = this.current.get(label);
    const previous = this.highWater(label);
    if (previous >= MAX_GENERATION) throw new MkError("EAGAIN", `${label} has used every generation up to ${MAX_GENERATION}`);
    if (prev && prev.state !== "dead") this.markDead(prev, DeathCause.SUPERSEDED, `by ${label}#${previous + 1} (pid ${p.pid})`);
    const entry = this.add(label, previous + 1, p);
    this.raise(label, entry.generation);
    this.changed(EventKind.STARTED, entry);
    return { entry, previous };
  }

  /**
   * A running incarnation registers again after kernel-core restarted, keeping its
   * generation. Refused (EDEADSRCDST) when a live incarnation of the label is already
   * registered, or a newer generation was: that one supersedes it.
   */
  resume(label: string, generation: number, p: { placement: "kernel" | "user"; pid: number; host: string; conn: string }): EndpointEntry {
    const cur = this.current.get(label);
    if (cur && (cur.state !== "dead" || cur.generation > generation)) {
      throw new MkError(
        "EDEADSRCDST",
        `${label}#${generation} cannot register again: ${cur.key} is ${cur.state === "dead" ? "newer" : "live"}`,
      );
    }
    const mark = this.marks.get(label);
    if (!cur && generation < (mark ?? 0)) {
      throw new MkError("EDEADSRCDST", `${label}#${generation} cannot register again: ${label}#${mark} came after it`);
    }
    // A claim is checked against what was issued: with marks that outlive the kernel, no
    // generation above the label's mark was ever given (a hostile resume of 999999999 would
    // otherwise spend the label's numbers); without them, it is bounded at least.
    if (generation > MAX_GENERATION || (this.store?.persistent && this.store.keep(label) && generation > (mark ?? 0))) {
      throw new MkError("EDEADSRCDST", `${label}#${generation} was never an incarnation (the highest issued is ${mark ?? "none"})`);
    }
    const entry = this.add(label, generation, p);
    this.raise(label, generation);
    this.changed(EventKind.RESUMED, entry);
    return entry;
  }

  private add(
    label: string,
    generation: number,
    p: { placement: "kernel" | "user"; pid: number; host: string; conn: string },
  ): EndpointEntry {
    const entry: EndpointEntry = {
      label,
      generation,
      key: `${label}#${generation}`,
      state: "starting",
      placement: p.placement,
      pid: p.pid,
      host: p.host,
      conn: p.conn,
      since: this.clock.now(),
      messages: 0,
    };
    this.current.set(label, entry);
    return entry;
  }

  /** Forgets a dead row (a client that went away: nothing will restart it). */
  forget(entry: EndpointEntry): void {
    if (entry.state === "dead" && this.current.get(entry.label) === entry) this.current.delete(entry.label);
  }

  /** The starting incarnation finished init: it serves now; wake those waiting for it. */
  ready(entry: EndpointEntry): void {
    if (entry.state !== "starting") return;
    entry.state = "ready";
    entry.since = this.clock.now();
    // Waiters first: whatever a listener does, no one waiting for this incarnation sleeps on.
    const ws = this.waiters.get(entry.label);
    for (const w of ws ? [...ws] : []) {
      if (entry.generation > w.after) {
        this.unwait(entry.label, w);
        w.resolve(entry);
      }
    }
    this.changed(EventKind.READY, entry);
  }

  markDead(entry: EndpointEntry, cause: DeathCause, detail?: string): void {
    if (entry.state === "dead") return;
    entry.state = "dead";
    entry.since = this.clock.now();
    // What the dead incarnation itself was waiting for is of no use to anyone now.
    for (const [label, ws] of this.waiters) {
      for (const w of [...ws]) {
        if (w.owner !== entry.key) continue;
        this.unwait(label, w);
        w.reject(new MkError("EDEADSRCDST", `${entry.key} died while waiting for ${label}`));
      }
    }
    this.changed(EventKind.DEAD, entry, cause, detail);
  }

  /** Waiters pending, all labels together. */
  get waiting(): number {
    return this.waiterCount;
  }

  private unwait(label: string, w: Waiter): void {
    const ws = this.waiters.get(label);
    if (!ws?.delete(w)) return;
    this.waiterCount--;
    if (ws.size === 0) this.waiters.delete(label);
  }

  /**
   * The live incarnation whose NATS connection is `<label>.<conn>` of NATS user `user`: the
   * label is the user's own, or an instance of it (`user.id`, a tool run several times).
   */
  byConnection(user: string, name: string): EndpointEntry | undefined {
    const dot = name.lastIndexOf(".");
    const label = dot < 0 ? "" : name.slice(0, dot);
    if (label !== user && baseLabel(label) !== user) return undefined;
    const e = this.current.get(label);
    return e && e.state !== "dead" && e.conn !== "" && name === `${label}.${e.conn}` ? e : undefined;
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
    if (!e) throw new MkError("EDEADSRCDST", `${label} has no incarnation`, { detail: { label } });
    if (generation !== 0 && generation !== e.generation) {
      throw new MkError("EDEADSRCDST", `${label}#${generation} is stale: current is ${e.key}${e.state === "dead" ? " (dead)" : ""}`, {
        detail: { label, got: generation, limit: e.generation },
      });
    }
    if (e.state === "dead") throw new MkError("EDEADSRCDST", `${e.key} is dead`, { detail: { label, got: e.generation } });
    return e;
  }

  /**
   * Waits until an incarnation of label newer than `after` is ready, up to ms. `owner` is
   * the incarnation waiting: if it dies first, the wait ends with EDEADSRCDST.
   */
  waitReady(label: string, after: number, ms: number, owner?: string): Promise<EndpointEntry> {
    const e = this.current.get(label);
    if (e && e.state === "ready" && e.generation > after) return Promise.resolve(e);
    if (this.waiterCount >= MAX_WAITERS) return Promise.reject(new MkError("EAGAIN", `${MAX_WAITERS} waiters already wait for endpoints`));
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(label);
      if (!set) this.waiters.set(label, (set = new Set()));
      const timer = this.clock.setTimeout(() => {
        this.unwait(label, w);
        reject(new MkError("ETIMEDOUT", `no ready incarnation of ${label} after generation ${after} within ${ms} ms`));
      }, ms);
      const w: Waiter = {
        after,
        owner,
        resolve: (x) => {
          timer.cancel();
          resolve(x);
        },
        reject: (x) => {
          timer.cancel();
          reject(x);
        },
      };
      set.add(w);
      this.waiterCount++;
    });
  }

  list(): EndpointInfo[] {
    return [...this.current.values()]
      .sort((a, b) => a.label.localeCompare(b.label))
      .map((e) => ({
        endpoint: e.key,
        label: e.label,
        generation: e.generation,
        state: e.state,
        placement: e.placement,
        pid: e.pid,
        host: e.host,
        since: new Date(e.since).toISOString(),
        messages: e.messages,
      }));
  }
}
