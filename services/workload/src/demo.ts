// The demo workload: a user program that keeps the system busy from the first second at
// a gentle, adjustable rate, and verifies every byte it reads back (the chaos runner's
// file workload: create, append, overwrite, rename, truncate, fsync, read back, through
// vfs, mfs and the ATA driver). WORKLOAD_SET changes the rate (0: idle, no message
// sent); WORKLOAD_PAUSE stops it for a while (an experiment runs: the pause expires by
// itself, so a pauser that dies leaves nothing idle for good); WORKLOAD_STATS says what it
// has done. The rate is kept in the file system (/demo/rate), so a restarted workload
// goes on at the rate it was set to.
import { MkError, Workload, WORKLOAD_MAX_RATE, WORKLOAD_SETTLE_MAX_MS } from "#abi";
import { FsClient, type Server, type Sys, type Timer } from "#libsys";
import { FileWorkload } from "./file-workload.ts";

const DEMO_ROOT = "/demo";
const RATE_FILE = `${DEMO_ROOT}/rate`;
/** Pausers remembered at once (each an endpoint; the oldest is forgotten past it). */
const MAX_PAUSERS = 16;

/** MK_WORKLOAD_RATE: the rate until one is set (compose: a gentle one; mkctl up: 0 unless --demo). */
export function rateFromEnv(v = process.env.MK_WORKLOAD_RATE ?? "0"): number {
  const n = Number(v);
  if (!/^[0-9]{1,3}$/.test(v) || n > WORKLOAD_MAX_RATE)
    throw new MkError("EINVAL", `MK_WORKLOAD_RATE=${JSON.stringify(v)} is not a rate 0-${WORKLOAD_MAX_RATE}`);
  return n;
}

export class DemoWorkload {
  private readonly sys: Sys;
  private readonly fs: FsClient;
  private rate: number;
  private load?: FileWorkload;
  /** When the next operation may start (token bucket of one). */
  private nextAt = 0;
  /** Operations waiting for the rate to leave 0, or for their slot. */
  private readonly waiting = new Set<Waiter>();
  private lastError: string | null = null;
  /** While now < pausedUntil nothing is sent: the latest of the pausers' deadlines. */
  private pausedUntil = 0;
  private pauseTimer?: Timer;
  /** Each pauser's deadline (by endpoint): one's end (ms 0) leaves another's pause in force. Bounded. */
  private readonly pausers = new Map<string, number>();
  /** Rate changes in order: a late file write never replaces a newer rate. */
  private setSeq = 0;

  constructor(sys: Sys, rate: number) {
    this.sys = sys;
    this.rate = rate;
    this.fs = new FsClient(sys, { waitMs: 60_000 });
  }

  server(): Server {
    return {
      concurrency: 4,
      initFresh: async () => void this.begin(),
      initRestart: async () => void this.begin(),
      // kernel-core restarted: the workers run on (their file client rides the outage out).
      // Starting them again put a second FileWorkload beside the first, on the same files,
      // each taking the other's writes for lost bytes (issue 19, item 5).
      initKernelRestart: async () => undefined,
      handlers: {
        [Workload.WORKLOAD_SET]: async (req) => {
          this.setRate(req.args.rate);
          const seq = ++this.setSeq;
          await this.keep(seq, req.args.rate);
          this.sys.log.info({ rate: req.args.rate, source: req.source }, "workload rate %d/s (set by %s)", req.args.rate, req.source);
          return { args: { rate: this.rate } };
        },
        [Workload.WORKLOAD_PAUSE]: async (req) => {
          this.pause(req.source, req.args.ms);
          this.sys.log.info(
            { ms: req.args.ms, source: req.source },
            req.args.ms === 0 ? "workload pause ended by %s" : "workload paused for %d ms by %s",
            ...(req.args.ms === 0 ? [req.source] : [req.args.ms, req.source]),
          );
          if (req.args.ms > 0) await this.settled();
          return { args: {} };
        },
        [Workload.WORKLOAD_STATS]: async () => {
          const s = this.load?.stats;
          return {
            args: {
              rate: this.rate,
              paused_ms: Math.max(0, this.pausedUntil - this.sys.clock.now()),
              ops: s?.ops_attempted ?? 0,
              failed: s?.ops_failed ?? 0,
              retried: s?.ops_retried ?? 0,
              bytes_written: s?.bytes_written ?? 0,
              bytes_verified: s?.bytes_verified ?? 0,
              bytes_wrong: s?.bytes_wrong ?? 0,
              ...((this.lastError ?? s?.errors.at(-1)) ? { last_error: (s?.errors.at(-1) ?? this.lastError ?? "").slice(0, 300) } : {}),
            },
          };
        },
      },
    };
  }

  /** Keeps rate in /demo/rate unless a newer change came meanwhile. */
  private async keep(seq: number, rate: number): Promise<void> {
    try {
      if (seq === this.setSeq) await this.fs.writeFile(RATE_FILE, String(rate));
    } catch (e) {
      this.sys.log.warn({ err: (e as Error).message }, "rate not kept in %s", RATE_FILE);
    }
  }

  /**
   * Until the operation under way (if any) has finished, at most WORKLOAD_SETTLE_MAX_MS and
   * while the pause lasts (WORKLOAD_PAUSE's answer waits for it: normally no file of the
   * workload's is open then, and an fsck may follow).
   */
  private async settled(): Promise<void> {
    const until = this.sys.clock.now() + WORKLOAD_SETTLE_MAX_MS;
    while ((this.load?.unfinished ?? 0) > 0 && this.sys.clock.now() < Math.min(until, this.pausedUntil)) {
      await new Promise<void>((resolve) => this.sys.clock.setTimeout(resolve, 10));
    }
  }

  /** source pauses for ms (0: its pause ends); the workload goes on when no pauser's deadline is ahead. */
  private pause(source: string, ms: number): void {
    const now = this.sys.clock.now();
    this.pausers.delete(source);
    for (const [s, until] of this.pausers) if (until <= now) this.pausers.delete(s);
    if (ms > 0) {
      if (this.pausers.size >= MAX_PAUSERS) this.pausers.delete(this.pausers.keys().next().value!);
      this.pausers.set(source, now + ms);
    }
    this.pausedUntil = Math.max(0, ...this.pausers.values());
    this.pauseTimer?.cancel();
    this.pauseTimer = this.pausedUntil > now ? this.sys.clock.setTimeout(() => this.rearm(), this.pausedUntil - now) : undefined;
    this.rearm();
  }

  /** Takes the kept rate, then starts the workers; the system need not be up yet (vfs is waited for), and a failed start is tried again. */
  private async begin(): Promise<void> {
    if (this.load) return; // one set of workers per process, whatever calls begin again
    try {
      const kept = (await this.fs.readFile(RATE_FILE).catch(() => undefined))?.toString().trim();
      if (kept !== undefined && /^[0-9]{1,3}$/.test(kept) && Number(kept) <= WORKLOAD_MAX_RATE) this.setRate(Number(kept));
      const load = new FileWorkload(this.sys, {
        workers: 1,
        maxBytes: 8192,
        seed: Date.now() >>> 0,
        root: `${DEMO_ROOT}/files`,
        pace: () => this.slot(),
      });
      this.load = load;
      await load.start().catch((e: unknown) => {
        this.load = undefined; // tried again in 5 s, from nothing
        throw e;
      });
      this.sys.log.info({ rate: this.rate }, "demo workload started at %d operations/s", this.rate);
    } catch (e) {
      this.lastError = `start: ${(e as Error).message}`;
      this.sys.log.error({ err: e }, "demo workload could not start: trying again in 5 s");
      this.sys.clock.setTimeout(() => void this.begin(), 5000);
    }
  }

  private setRate(rate: number): void {
    this.rate = rate;
    this.rearm();
  }

  /** Resolves when the next operation may go: never while the rate is 0. */
  private slot(): Promise<void> {
    return new Promise((resolve) => {
      const w: Waiter = { arm: () => undefined };
      w.arm = () => {
        w.timer?.cancel();
        w.timer = undefined;
        const now = this.sys.clock.now();
        if (this.rate === 0 || now < this.pausedUntil) return; // armed again by setRate, or when the pause ends
        const at = Math.max(now, this.nextAt);
        this.nextAt = at + 1000 / this.rate;
        w.timer = this.sys.clock.setTimeout(() => {
          this.waiting.delete(w);
          resolve();
        }, at - now);
      };
      this.waiting.add(w);
      w.arm();
    });
  }

  /** The rate changed: every waiting operation takes a new slot at the new rate. */
  private rearm(): void {
    for (const w of [...this.waiting]) w.arm();
  }
}

interface Waiter {
  arm: () => void;
  timer?: Timer;
}
