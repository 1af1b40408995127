// How an mkos client rides out a restart, in one place (MINIX libbdev's recovery, made
// general). A request to one incarnation of a server that answers EDEADSRCDST (the server
// died) waits for the next generation to be ready and is sent again; one that answers
// ENOTREADY (kernel-core or NATS away for a while) or ETIMEDOUT (lost with a kernel that
// died, or stuck in a server that hangs until rs replaces it) waits until the server
// answers again and is sent again, until the deadline. Only requests the caller marks idempotent are resent; the others
// fail with the errno, which names what happened.
import { isMkError, MkError } from "#abi";
import { sysWaitEndpoint } from "./calls/sys-getinfo.ts";
import type { Sys } from "./sys.ts";

export interface RecoveryOptions {
  /** How long to wait for a restarted server (or the kernel) before giving up. */
  waitMs?: number;
  /** Resends of one request before giving up. */
  maxRetries?: number;
  onRetry?: (info: { label: string; deadGeneration: number; newGeneration: number; errno: string }) => void;
}

/**
 * How long the kernel may refuse this caller itself (EDEADSRCDST on its own kernel calls)
 * before the caller is taken as superseded: a restarted kernel-core is joined again at its
 * first announcement (once a second; seen to take a few seconds on a loaded machine),
 * while a caller replaced by a newer process of the same label is refused for good.
 */
const SUPERSEDED_AFTER_MS = 10_000;
/** Waits between tries while the kernel or NATS is away: doubling, up to a quarter second. */
const AWAY_MIN_MS = 50;
const AWAY_MAX_MS = 250;

/** One server label, followed across its incarnations. */
export class Recovering {
  private readonly sys: Sys;
  readonly label: string;
  private readonly o: Required<Omit<RecoveryOptions, "onRetry">> & Pick<RecoveryOptions, "onRetry">;
  /** The incarnation requests go to; 0 until the first is found. */
  generation = 0;
  /** The kernel boot `generation` was learned under: another boot's numbers are not comparable. */
  private boot = "";
  /** Run after a new generation is found, before the request is sent again (re-open what was open). */
  private readonly rejoin?: (generation: number) => Promise<void>;
  /** The generation whose rejoin completed, and its kernel boot: no request goes to a newer one before its rejoin did. */
  private joined = 0;
  private joinedBoot = "";
  /** The rejoin under way, which every caller waits for (one at a time, whoever found the new generation). */
  private joining?: Promise<void>;

  constructor(sys: Sys, label: string, o: RecoveryOptions = {}, rejoin?: (generation: number) => Promise<void>) {
    this.sys = sys;
    this.label = label;
    this.o = { waitMs: o.waitMs ?? 30_000, maxRetries: o.maxRetries ?? 10, onRetry: o.onRetry };
    this.rejoin = rejoin;
  }

  /**
   * Runs `send` against the current incarnation (`label#generation`). With idempotent,
   * a request lost to a server's death or the kernel's absence is sent again.
   */
  async call<T>(send: (dst: string) => Promise<T>, idempotent = true): Promise<T> {
    const deadline = this.sys.clock.now() + this.o.waitMs;
    let deaths = 0;
    let pause = AWAY_MIN_MS;
    for (;;) {
      if (this.generation === 0) this.generation = await this.next(0, deadline, this.sys.kernelBoot);
      const gen = this.generation;
      const boot = this.boot;
      try {
        await this.join(gen, boot);
        return await send(`${this.label}#${gen}`);
      } catch (e) {
        const errno = e instanceof MkError ? e.errno : "";
        if (!idempotent || (errno !== "EDEADSRCDST" && errno !== "ENOTREADY" && errno !== "ETIMEDOUT")) throw e;
        if (errno === "EDEADSRCDST" && ++deaths > this.o.maxRetries) throw e;
        if (errno !== "EDEADSRCDST") {
          // Away (kernel-core restarting, NATS reconnecting): tried again, more slowly each
          // time, until the deadline; the same incarnation once the kernel answers for it.
          if (this.sys.clock.now() + pause >= deadline) throw e;
          await this.sys.clock.sleep(pause);
          pause = Math.min(pause * 2, AWAY_MAX_MS);
        }
        // The next ready incarnation from `gen` on: a dead one is never ready again, so this is
        // its successor; one that only went unknown (kernel-core restarted) resumes as `gen`.
        const next = await this.next(gen - 1, deadline, boot);
        if (next > this.generation || this.boot !== boot) this.generation = next;
        this.o.onRetry?.({ label: this.label, deadGeneration: gen, newGeneration: next, errno });
      }
    }
  }

  /**
   * Before the first request to a generation: its rejoin, once, however many callers find
   * it at the same time (two rejoins would open everything twice; a request sent during
   * one would name what the new incarnation has not opened yet). A rejoin that fails
   * (the new incarnation died too) fails that caller's try, which is then retried as any.
   */
  private async join(gen: number, boot: string): Promise<void> {
    while (this.joined !== gen || this.joinedBoot !== boot) {
      if (this.joining) {
        await this.joining;
        continue;
      }
      const sameBoot = this.joinedBoot === boot;
      if (this.joined === 0 || !this.rejoin || (sameBoot && gen < this.joined)) {
        // The first incarnation found has nothing to restore; an older one (of the same boot) is dead anyway.
        if (gen > this.joined || !sameBoot) [this.joined, this.joinedBoot] = [gen, boot];
        return;
      }
      const joining = this.rejoin(gen).then(() => void ([this.joined, this.joinedBoot] = [gen, boot]));
      // What the others wait on never rejects: the error is the initiator's to handle.
      const settled: Promise<void> = joining
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          if (this.joining === settled) this.joining = undefined;
        });
      this.joining = settled;
      await joining;
    }
  }

  /**
   * The first ready generation above `after` (a number of kernel boot `boot`), riding out the
   * kernel's absence until the deadline. Under a newer kernel boot (kernel-core restarted,
   * and may number from 1 again) any ready incarnation will do: whatever registered with the
   * new kernel is alive, and a dead one cannot have.
   */
  private async next(after: number, deadline: number, boot: string): Promise<number> {
    let pause = AWAY_MIN_MS;
    let refusedSince: number | undefined;
    for (;;) {
      const left = deadline - this.sys.clock.now();
      if (left <= 0)
        throw new MkError("ETIMEDOUT", `no ready incarnation of ${this.label} after generation ${after} within ${this.o.waitMs} ms`);
      const underBoot = this.sys.kernelBoot;
      try {
        // Asked for a short while at a time under an old boot's number: a new boot (kernel-core
        // restarted meanwhile) is then noticed within a second, not at the deadline.
        const wait = underBoot === boot ? left : Math.min(left, 1000);
        const ep = await sysWaitEndpoint(this.sys, this.label, underBoot === boot ? after : 0, wait);
        this.boot = this.sys.kernelBoot;
        return ep.generation;
      } catch (e) {
        if (isMkError(e, "ETIMEDOUT") && this.sys.kernelBoot !== underBoot) continue;
        // ENOTREADY: the kernel or the bus is away. EDEADSRCDST here is about the caller: a
        // restarted kernel-core that this client has not registered with again yet, or, if
        // it lasts, a newer process of the caller's label that superseded this one.
        if (!isMkError(e, "ENOTREADY") && !isMkError(e, "EDEADSRCDST")) throw e;
        if (isMkError(e, "EDEADSRCDST")) {
          refusedSince ??= this.sys.clock.now();
          if (this.sys.clock.now() - refusedSince >= SUPERSEDED_AFTER_MS) {
            throw new MkError(
              "EDEADSRCDST",
              `${this.sys.self} is no longer a live incarnation: another process connected as ${this.sys.label} and superseded it (one process per label at a time)`,
            );
          }
        } else refusedSince = undefined;
        await this.sys.clock.sleep(Math.min(pause, left));
        pause = Math.min(pause * 2, AWAY_MAX_MS);
      }
    }
  }
}
