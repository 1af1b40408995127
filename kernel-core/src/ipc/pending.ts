// What is in flight in the kernel, and whose it is. Per caller (label): how many traps and
// body bytes it has in the kernel, bounded by CALLER_LIMITS (past them: EAGAIN). Per
// incarnation: the requests waiting on it, so its death fails them at once with
// EDEADSRCDST instead of leaving them to their deadlines.
import { CALLER_LIMITS, MkError } from "#abi";
import type { EndpointEntry } from "../table/endpoint-table.ts";

interface Load {
  traps: number;
  bytes: number;
}

export class Pending {
  private readonly load = new Map<string, Load>();
  private readonly waiting = new Map<string, Set<(e: MkError) => void>>();

  /** Admits one trap of `bytes` for caller, or throws EAGAIN; release() when it is answered. */
  admit(caller: string, bytes: number): void {
    let l = this.load.get(caller);
    if (!l) this.load.set(caller, (l = { traps: 0, bytes: 0 }));
    if (l.traps >= CALLER_LIMITS.traps)
      throw new MkError("EAGAIN", `${caller} already has ${l.traps} requests in the kernel (limit ${CALLER_LIMITS.traps})`);
    if (l.bytes + bytes > CALLER_LIMITS.bytes)
      throw new MkError("EAGAIN", `${caller} already has ${l.bytes} bytes in the kernel (limit ${CALLER_LIMITS.bytes})`);
    l.traps++;
    l.bytes += bytes;
  }

  release(caller: string, bytes: number): void {
    const l = this.load.get(caller);
    if (!l) return;
    l.traps--;
    l.bytes -= bytes;
    if (l.traps <= 0) this.load.delete(caller);
  }

  /** Traps in the kernel now, all callers together (the mk_traps_in_flight gauge). */
  inFlight(): number {
    let n = 0;
    for (const l of this.load.values()) n += l.traps;
    return n;
  }

  /**
   * Races p against the death of ep: a dying endpoint fails what waits on it at once. One
   * already dead fails it now: a death between a route's checks and this call (the
   * scheduler held the message, or the destination was starting) would otherwise leave
   * the request to its deadline, with no death left to end it.
   */
  untilDeath<T>(ep: EndpointEntry, p: Promise<T>): Promise<T> {
    if (ep.state === "dead") {
      p.catch(() => undefined);
      return Promise.reject(new MkError("EDEADSRCDST", `${ep.key} is dead`));
    }
    return new Promise<T>((resolve, reject) => {
      let set = this.waiting.get(ep.key);
      if (!set) this.waiting.set(ep.key, (set = new Set()));
      const fail = (e: MkError) => reject(e);
      set.add(fail);
      const done = () => {
        set.delete(fail);
        if (set.size === 0 && this.waiting.get(ep.key) === set) this.waiting.delete(ep.key);
      };
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (e) => {
          done();
          reject(e);
        },
      );
    });
  }

  /** ep died: every request waiting on it fails now. */
  died(ep: EndpointEntry, cause: string): void {
    const set = this.waiting.get(ep.key);
    this.waiting.delete(ep.key);
    for (const fail of set ?? []) fail(new MkError("EDEADSRCDST", `${ep.key} died while handling the request (${cause})`));
  }
}
