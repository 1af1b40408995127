// Admission of traps before any work: one caller's flood must not delay another's trap.
// Traps arrive from NATS in one stream, in arrival order; taken in that order, a flood
// sent ahead of rs's heartbeat (300,000 denied traps from one label) kept the kernel busy
// for seconds before the heartbeat was even looked at. So each trap is first only queued,
// per caller (the label its trap subject names: NATS authenticated it), and the kernel
// starts traps round robin across callers, at most TURN_BUDGET in one turn of the event
// loop, so the socket is read again between turns and a newly arrived caller is served at
// the next turn, whatever is queued ahead of it. A caller with PER_CALLER_QUEUE traps, or
// PER_CALLER_QUEUE_BYTES of bodies, waiting has the next one dropped at the cost of a map
// lookup: counted, and answered EAGAIN when it asked for an answer (within a budget). The
// caller is the label, never an instance of it: every run of a tool shares its label's
// queue, so fresh instance ids cannot buy a flood fresh queues. When nothing waits, a trap
// starts at once (no extra turn on the fast path).

/** Traps of one caller waiting to start; past it the next is dropped with EAGAIN. */
export const PER_CALLER_QUEUE = 256;
/** Body bytes of one caller's waiting traps; past it the next is dropped with EAGAIN. */
export const PER_CALLER_QUEUE_BYTES = 4 * 1024 * 1024;
/** Traps started in one turn of the event loop, all callers together. */
export const TURN_BUDGET = 64;

export interface TrapQueueOptions<M> {
  /** Starts one trap's handling (its synchronous part runs now). */
  start(label: string, m: M): void;
  /** A trap refused before any work: its caller has PER_CALLER_QUEUE waiting already. */
  dropped(label: string, m: M): void;
  /** Runs fn in the next turn of the event loop (setImmediate; a test passes its own). */
  later?: (fn: () => void) => void;
  /** A trap's body bytes (default 0). */
  size?: (m: M) => number;
}

export class TrapQueue<M> {
  private readonly o: TrapQueueOptions<M>;
  private readonly later: (fn: () => void) => void;
  private readonly queues = new Map<string, { traps: M[]; bytes: number }>();
  /** Callers with traps waiting, in round-robin order. */
  private order: string[] = [];
  private waiting = 0;
  private startedThisTurn = 0;
  private turnScheduled = false;

  constructor(o: TrapQueueOptions<M>) {
    this.o = o;
    this.later = o.later ?? ((fn) => void setImmediate(fn));
  }

  /** Traps waiting to start, all callers together. */
  get length(): number {
    return this.waiting;
  }

  push(label: string, m: M): void {
    if (this.waiting === 0 && this.startedThisTurn < TURN_BUDGET) {
      this.startedThisTurn++;
      this.nextTurn();
      this.o.start(label, m);
      return;
    }
    let q = this.queues.get(label);
    if (!q) this.queues.set(label, (q = { traps: [], bytes: 0 }));
    const bytes = this.o.size?.(m) ?? 0;
    if (q.traps.length >= PER_CALLER_QUEUE || q.bytes + bytes > PER_CALLER_QUEUE_BYTES) {
      if (q.traps.length === 0) this.queues.delete(label);
      this.o.dropped(label, m);
      return;
    }
    q.traps.push(m);
    q.bytes += bytes;
    if (q.traps.length === 1) this.order.push(label);
    this.waiting++;
    this.nextTurn();
  }

  private nextTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    this.later(() => this.turn());
  }

  /** One turn: up to TURN_BUDGET traps, one per caller in turn. */
  private turn(): void {
    this.turnScheduled = false;
    this.startedThisTurn = 0;
    while (this.waiting > 0 && this.startedThisTurn < TURN_BUDGET) {
      // order holds one entry per label of the table: shift() is cheap.
      const label = this.order.shift()!;
      const q = this.queues.get(label)!;
      const m = q.traps.shift()!;
      q.bytes -= this.o.size?.(m) ?? 0;
      this.waiting--;
      if (q.traps.length > 0) this.order.push(label);
      else this.queues.delete(label);
      this.startedThisTurn++;
      this.o.start(label, m);
    }
    // More waiting, or traps started now: the budget counts again next turn.
    if (this.waiting > 0 || this.startedThisTurn > 0) this.nextTurn();
  }
}
