// Admission of traps before any work: one caller's flood must not delay another's trap.
// Traps arrive from NATS in one stream, in arrival order; taken in that order, a flood
// sent ahead of rs's heartbeat (300,000 denied traps from one label) kept the kernel busy
// for seconds before the heartbeat was even looked at. So each trap is first only queued,
// per caller (the label its trap subject names: NATS authenticated it), and the kernel
// starts traps round robin across callers, at most TURN_BUDGET in one turn of the event
// loop, so the socket is read again between turns and a newly arrived caller is served at
// the next turn, whatever is queued ahead of it. A caller with PER_CALLER_QUEUE traps
// waiting has the next one dropped at the cost of a map lookup: answered EAGAIN when it
// asked for an answer, and counted. When nothing waits, a trap starts at once (no extra
// turn on the fast path).

/** Traps of one caller waiting to start; past it the next is dropped with EAGAIN. */
export const PER_CALLER_QUEUE = 256;
/** Traps started in one turn of the event loop, all callers together. */
export const TURN_BUDGET = 64;

export interface TrapQueueOptions<M> {
  /** Starts one trap's handling (its synchronous part runs now). */
  start(label: string, m: M): void;
  /** A trap refused before any work: its caller has PER_CALLER_QUEUE waiting already. */
  dropped(label: string, m: M): void;
  /** Runs fn in the next turn of the event loop (setImmediate; a test passes its own). */
  later?: (fn: () => void) => void;
}

export class TrapQueue<M> {
  private readonly o: TrapQueueOptions<M>;
  private readonly later: (fn: () => void) => void;
  private readonly queues = new Map<string, M[]>();
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
    if (!q) this.queues.set(label, (q = []));
    if (q.length >= PER_CALLER_QUEUE) {
      this.o.dropped(label, m);
      return;
    }
    q.push(m);
    if (q.length === 1) this.order.push(label);
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
      const label = this.order.shift()!;
      const q = this.queues.get(label)!;
      const m = q.shift()!;
      this.waiting--;
      if (q.length > 0) this.order.push(label);
      else this.queues.delete(label);
      this.startedThisTurn++;
      this.o.start(label, m);
    }
    // More waiting, or traps started now: the budget counts again next turn.
    if (this.waiting > 0 || this.startedThisTurn > 0) this.nextTurn();
  }
}
