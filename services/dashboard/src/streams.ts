// The server-sent event streams (/api/stream): at most MAX_STREAMS open, at most
// MAX_STREAMS_PER_ADDRESS from one remote address, each with at most STREAM_BACKLOG
// bytes unsent. A client that does not read cannot be told from one that does until the
// kernel's socket buffers are full (about 4 MB on loopback: minutes of state pushes), so
// a full table never refuses a newcomer: it takes the place of the stream furthest behind
// (unsent bytes, once the kernel holds no more), else of the oldest (its own address's
// oldest when that address has its share). Holding streams open locks no page out; a
// page whose stream is ended opens it again by itself (EventSource, `retry: 1000`).
import type { ServerResponse } from "node:http";

export const MAX_STREAMS = 64;
/** Fairness among honest clients (several tabs of one browser); on loopback no defence, see above. */
export const MAX_STREAMS_PER_ADDRESS = 8;
/** What one stream may have unsent (beyond the kernel's buffers) before it is dropped as not reading. */
export const STREAM_BACKLOG = 256 * 1024;

export class EventStreams {
  /** Every open stream, the oldest first, with its remote address. */
  private readonly open = new Map<ServerResponse, string>();
  private readonly perAddress = new Map<string, number>();
  /** Streams ended to make room for a newer one. */
  evicted = 0;

  get size(): number {
    return this.open.size;
  }

  /** Counts a new stream from addr, first ending the one it replaces when a bound is hit. */
  add(res: ServerResponse, addr: string): void {
    if ((this.perAddress.get(addr) ?? 0) >= MAX_STREAMS_PER_ADDRESS) this.evict(addr);
    else if (this.open.size >= MAX_STREAMS) this.evict(undefined);
    this.open.set(res, addr);
    this.perAddress.set(addr, (this.perAddress.get(addr) ?? 0) + 1);
    // However it ends (the client leaves, a write fails, it is dropped), its place is given back.
    res.once("close", () => this.forget(res));
    res.on("error", () => this.drop(res));
  }

  /** One event to one stream; a stream too far behind is dropped instead. */
  send(res: ServerResponse, event: string, data: string): void {
    if (res.writableLength > STREAM_BACKLOG) {
      this.drop(res);
      return;
    }
    res.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  broadcast(event: string, data: string): void {
    for (const res of this.open.keys()) this.send(res, event, data);
  }

  endAll(): void {
    for (const res of [...this.open.keys()]) {
      this.forget(res);
      res.end();
    }
  }

  /** Ends the stream furthest behind, else the oldest; among addr's own when addr is given. */
  private evict(addr: string | undefined): void {
    let oldest: ServerResponse | undefined;
    let behind: ServerResponse | undefined;
    for (const [res, a] of this.open) {
      if (addr !== undefined && a !== addr) continue;
      oldest ??= res;
      if (res.writableLength > (behind?.writableLength ?? 0)) behind = res;
    }
    const victim = behind ?? oldest;
    if (!victim) return;
    this.evicted++;
    this.drop(victim);
  }

  private drop(res: ServerResponse): void {
    this.forget(res);
    res.destroy();
  }

  /** Its place is given back at once (a destroyed response's "close" comes a turn later). */
  private forget(res: ServerResponse): void {
    const addr = this.open.get(res);
    if (addr === undefined) return;
    this.open.delete(res);
    const n = (this.perAddress.get(addr) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(addr);
    else this.perAddress.set(addr, n);
  }
}
