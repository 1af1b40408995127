// The receive side of a server: requests wait here until the server takes them, one
// queue per caller, served round robin, so one caller's flood never starves another's
// request. Everything is bounded per caller and in total (entries and body bytes); past
// a bound the request is refused with EAGAIN at once. `concurrency` requests run at a
// time (1 for a block driver: one controller, one set of registers), and no caller may
// hold every slot when there is more than one.
import { MkError } from "#abi";

export interface QueueLimits {
  concurrency: number;
  perCaller: number;
  perCallerBytes: number;
  total: number;
  totalBytes: number;
}

const DEFAULT_QUEUE_LIMITS: QueueLimits = {
  concurrency: 8,
  perCaller: 64,
  perCallerBytes: 8 * 1024 * 1024,
  total: 1024,
  totalBytes: 64 * 1024 * 1024,
};

interface Job {
  bytes: number;
  run: () => Promise<void>;
}

interface Caller {
  jobs: Job[];
  bytes: number;
  running: number;
}

export class ServerQueue {
  private readonly limits: QueueLimits;
  private readonly callers = new Map<string, Caller>();
  private order: string[] = []; // callers with queued jobs, in round-robin order
  private running = 0;
  private queued = 0;
  private queuedBytes = 0;

  constructor(limits: Partial<QueueLimits> = {}) {
    this.limits = { ...DEFAULT_QUEUE_LIMITS, ...limits };
  }

  /** Queued (not yet running) requests. */
  get length(): number {
    return this.queued;
  }

  /**
   * Queues fn for caller (a label: a new incarnation of the caller shares its queue).
   * Throws EAGAIN now if a bound is reached; otherwise the promise settles with fn's result.
   */
  push<T>(caller: string, bytes: number, fn: () => Promise<T>): Promise<T> {
    const l = this.limits;
    let c = this.callers.get(caller);
    const queuedHere = c?.jobs.length ?? 0;
    if (queuedHere >= l.perCaller)
      throw new MkError("EAGAIN", `${caller} already has ${queuedHere} requests queued here (limit ${l.perCaller})`, {
        detail: { arg: "requests", label: caller.slice(0, 64), limit: l.perCaller, got: queuedHere },
      });
    if ((c?.bytes ?? 0) + bytes > l.perCallerBytes)
      throw new MkError("EAGAIN", `${caller} already has ${c?.bytes ?? 0} bytes queued here (limit ${l.perCallerBytes})`, {
        detail: { arg: "bytes", label: caller.slice(0, 64), limit: l.perCallerBytes, got: c?.bytes ?? 0 },
      });
    if (this.queued >= l.total || this.queuedBytes + bytes > l.totalBytes)
      throw new MkError("EAGAIN", `the server's queue is full (${this.queued} requests, ${this.queuedBytes} bytes)`, {
        detail: {
          arg: "queue",
          limit: this.queued >= l.total ? l.total : l.totalBytes,
          got: this.queued >= l.total ? this.queued : this.queuedBytes,
        },
      });
    if (!c) this.callers.set(caller, (c = { jobs: [], bytes: 0, running: 0 }));
    // Nothing waiting and a slot free: run now, without a turn through the queue.
    if (this.order.length === 0 && this.running < l.concurrency && c.running < (l.concurrency > 1 ? l.concurrency - 1 : 1)) {
      return this.start(caller, c, fn);
    }
    return new Promise<T>((resolve, reject) => {
      c.jobs.push({ bytes, run: () => Promise.resolve().then(fn).then(resolve, reject) });
      c.bytes += bytes;
      this.queued++;
      this.queuedBytes += bytes;
      if (c.jobs.length === 1) this.order.push(caller);
      this.pump();
    });
  }

  private pump(): void {
    const l = this.limits;
    const cap = l.concurrency > 1 ? l.concurrency - 1 : 1;
    while (this.running < l.concurrency && this.order.length > 0) {
      const i = this.order.findIndex((name) => this.callers.get(name)!.running < cap);
      if (i < 0) return;
      const name = this.order[i];
      const c = this.callers.get(name)!;
      const job = c.jobs.shift()!;
      c.bytes -= job.bytes;
      this.queued--;
      this.queuedBytes -= job.bytes;
      // Round robin: this caller goes to the back (or leaves the order when it has no more).
      this.order.splice(i, 1);
      if (c.jobs.length > 0) this.order.push(name);
      void this.start(name, c, job.run);
    }
  }

  private start<T>(name: string, c: Caller, fn: () => Promise<T>): Promise<T> {
    c.running++;
    this.running++;
    const done = () => {
      c.running--;
      this.running--;
      if (c.running === 0 && c.jobs.length === 0) this.callers.delete(name);
      this.pump();
    };
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(done, done);
    return p;
  }
}
