// A bounded LRU cache of file-system blocks over a BlockDevice (MINIX's buf.c). Write
// policy: write-back. A changed block is only marked dirty; it reaches the device when it
// is evicted or at sync(), which then flushes the device, so a sync is the one point where
// the disk is known to be consistent. Callers run one operation at a time (the server
// serializes requests), so no locking.
//
// Write order, for a server killed in the middle of writing: a block allocated since it
// last reached the device (zeroed(): a fresh data zone or indirect block) is written before
// any other dirty block. A pointer to a fresh block lives in an older block (an inode, an
// older indirect block, a directory), so the disk never holds a pointer to a block whose
// old contents are still there: stale zone numbers in an indirect block would cross-link
// files, stale bytes would show another file's data. Evicting an older dirty block first
// writes every fresh one; a fresh block may go alone, as nothing on disk points to it yet.
//
// Clustered I/O (MINIX's rw_scattered): adjacent blocks travel together, up to
// MAX_RUN_BYTES a run, and what one sync or eviction writes goes as one vectored request in
// that order (the device writes its extents in order, so a request torn part way leaves a
// prefix, which the order makes safe). A run read caches only the blocks absent when its
// request went out.
import { MkError } from "#abi";
import { SECTOR_SIZE, type BlockDevice } from "./block-device.ts";

/** Bytes in one run of adjacent blocks (one device request): 512 sectors, two ATA commands. */
const MAX_RUN_BYTES = 256 * 1024;

interface Entry {
  data: Uint8Array;
  dirty: boolean;
  /** Allocated since it last reached the device (dirty too). */
  fresh: boolean;
  /** Counts the changes recorded (put, zeroed): a write clean-marks only the version it carried. */
  version: number;
}

export class BufferCache {
  readonly dev: BlockDevice;
  readonly blockSize: number;
  readonly capacity: number;
  #hits = 0;
  #misses = 0;
  #writes = 0;
  private readonly sectorsPerBlock: number;
  /** Blocks in one device request when adjacent ones go together. */
  private readonly maxRun: number;
  /** Map iteration order is least recently used first. */
  private readonly entries = new Map<number, Entry>();

  constructor(dev: BlockDevice, blockSize: number, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new MkError("EINVAL", `cache of ${capacity} blocks`);
    this.dev = dev;
    this.blockSize = blockSize;
    this.capacity = capacity;
    this.sectorsPerBlock = blockSize / SECTOR_SIZE;
    this.maxRun = Math.max(1, Math.floor(MAX_RUN_BYTES / blockSize));
  }

  /** Blocks found in the cache. */
  get hits(): number {
    return this.#hits;
  }
  /** Blocks read from the device. */
  get misses(): number {
    return this.#misses;
  }
  /** Blocks written to the device (evictions and syncs). */
  get writes(): number {
    return this.#writes;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The block's bytes. The array may be changed in place, but the change counts only after
   * put(): the block may have been evicted in between, and put() brings it back as dirty.
   */
  async get(block: number): Promise<Uint8Array> {
    const e = this.entries.get(block);
    if (e !== undefined) {
      this.#hits++;
      this.entries.delete(block);
      this.entries.set(block, e);
      return e.data;
    }
    this.#misses++;
    const data = await this.dev.read(block * this.sectorsPerBlock, this.sectorsPerBlock);
    await this.insert(block, { data, dirty: false, fresh: false, version: 0 });
    return data;
  }

  /** Records `data` as the block's new contents, to be written back later. */
  async put(block: number, data: Uint8Array): Promise<void> {
    if (data.length !== this.blockSize) throw new MkError("EINVAL", `block ${block}: ${data.length} bytes, not ${this.blockSize}`);
    const e = this.entries.get(block);
    if (e !== undefined) {
      this.entries.delete(block);
      e.data = data;
      e.dirty = true;
      e.version++;
      this.entries.set(block, e);
      return;
    }
    await this.insert(block, { data, dirty: true, fresh: false, version: 0 });
  }

  /** A freshly allocated block, all zeros: no read from the device, and written before any older block. */
  async zeroed(block: number): Promise<Uint8Array> {
    const data = new Uint8Array(this.blockSize);
    const e = this.entries.get(block);
    if (e === undefined) {
      await this.insert(block, { data, dirty: true, fresh: true, version: 0 });
      return data;
    }
    this.entries.delete(block);
    Object.assign(e, { data, dirty: true, fresh: true, version: e.version + 1 });
    this.entries.set(block, e);
    return data;
  }

  /** Is the block cached (no device read needed)? */
  has(block: number): boolean {
    return this.entries.has(block);
  }

  /**
   * Reads `count` adjacent blocks from `start` (at most the cache's size) into the cache,
   * MAX_RUN_BYTES per device request: the check at mount reads the metadata so, and a file
   * read its runs of adjacent zones. A block cached when its request went out is left
   * alone, even if making room for the run evicts it before its turn: its bytes on the disk
   * may be older than the copy just written back, and the bytes the request brought are
   * older still.
   */
  async readRun(start: number, count: number): Promise<void> {
    const n = Math.min(count, this.capacity);
    for (let at = start; at < start + n; at += this.maxRun) {
      const len = Math.min(this.maxRun, start + n - at);
      const absent: number[] = [];
      for (let b = at; b < at + len; b++) if (!this.entries.has(b)) absent.push(b);
      if (absent.length === 0) continue;
      // Only the span from the first block absent to the last goes to the device.
      const from = absent[0];
      const to = absent[absent.length - 1];
      const data = await this.dev.read(from * this.sectorsPerBlock, (to - from + 1) * this.sectorsPerBlock);
      for (const b of absent) {
        if (this.entries.has(b)) continue;
        this.#misses++;
        const i = b - from;
        await this.insert(b, { data: data.slice(i * this.blockSize, (i + 1) * this.blockSize), dirty: false, fresh: false, version: 0 });
      }
    }
  }

  /**
   * Every dirty block to the device in one batch, fresh ones first, then a flush: one
   * vectored request for a change that touched an inode, a directory and a bitmap, runs
   * of adjacent blocks as one extent each. Nothing to flush when nothing was written since
   * the last flush.
   */
  async sync(): Promise<void> {
    const fresh = this.runs((e) => e.fresh);
    const runs = [...fresh, ...this.runs((e) => e.dirty && !e.fresh)];
    if (runs.length === 0 && !this.unflushed) return;
    await this.writeRuns(runs, true, fresh.length);
    this.unflushed = false;
  }

  /** Blocks were written since the last flush (by the cache, or by the caller straight to the device). */
  unflushed = true;

  /** Forgets every block without writing (after the device was changed behind the cache). */
  invalidate(): void {
    this.entries.clear();
  }

  /**
   * Caches the block, evicting the least recently used to stay within the bound. A dirty
   * victim the device will not take (a bad sector, a driver past its deadline) is kept,
   * moved to the recently used end, and the next one is tried: one block that cannot be
   * written holds up no one else's reads. Only when nothing can be evicted does the insert
   * fail: a clean block (just read) is then not cached, and a dirty one (a change) stays
   * while its operation fails with the device's error, so the cache is over its bound by
   * no more than the dirty blocks the device refuses.
   */
  private async insert(block: number, e: Entry): Promise<void> {
    this.entries.set(block, e);
    let tries = this.entries.size;
    let refused: unknown;
    while (this.entries.size > this.capacity && tries-- > 0) {
      const [oldest, victim] = this.entries.entries().next().value as [number, Entry];
      if (!victim.dirty) {
        this.entries.delete(oldest);
        continue;
      }
      try {
        await this.evict(oldest, victim);
      } catch (err) {
        refused = err;
        this.entries.delete(oldest);
        this.entries.set(oldest, victim);
      }
    }
    if (this.entries.size <= this.capacity) return;
    if (!e.dirty && this.entries.get(block) === e) {
      this.entries.delete(block);
      return;
    }
    throw refused ?? new MkError("EIO", `block ${block}: no room in the cache`);
  }

  /**
   * Writes a dirty victim out with the dirty blocks after it on the disk (a file written in
   * order is evicted in order), and drops it. An older block may point to fresh ones, so
   * every fresh block goes first, in the same request; a fresh victim goes with the fresh
   * blocks after it only (nothing on the disk points to them yet). Should the write fail the
   * victim stays cached, dirty: an acknowledged write is never dropped unwritten.
   */
  private async evict(block: number, victim: Entry): Promise<void> {
    const fresh = victim.fresh ? [] : this.runs((e) => e.fresh);
    const run: [number, Entry][] = [[block, victim]];
    for (let b = block + 1; run.length < this.maxRun; b++) {
      const e = this.entries.get(b);
      if (!e?.dirty || e.fresh !== victim.fresh) break;
      run.push([b, e]);
    }
    await this.writeRuns([...fresh, run], false, fresh.length);
    this.entries.delete(block);
    if (victim.dirty) this.entries.set(block, victim); // changed while it was written: the newest, kept
  }

  /** The cached blocks `pick` chooses, ascending, cut into runs of adjacent ones (at most maxRun each). */
  private runs(pick: (e: Entry) => boolean): [number, Entry][][] {
    const chosen = [...this.entries.entries()].filter(([, e]) => pick(e)).sort((a, b) => a[0] - b[0]);
    const runs: [number, Entry][][] = [];
    for (const c of chosen) {
      const last = runs.at(-1);
      if (last !== undefined && last.length < this.maxRun && last.at(-1)![0] + 1 === c[0]) last.push(c);
      else runs.push([c]);
    }
    return runs;
  }

  /**
   * The runs as one vectored write, the first `barrier` of them (the fresh blocks) all on the
   * disk before any other is written, then a flush if asked; their blocks are clean after it.
   */
  private async writeRuns(runs: [number, Entry][][], flush: boolean, barrier: number): Promise<void> {
    const extents = runs.map((run) => {
      const data = run.length === 1 ? run[0][1].data : new Uint8Array(run.length * this.blockSize);
      if (run.length > 1) run.forEach(([, e], k) => data.set(e.data, k * this.blockSize));
      return { lba: run[0][0] * this.sectorsPerBlock, data };
    });
    const written = runs.flat();
    // Clean is what the request carried: a block changed again meanwhile stays dirty.
    const sent = written.map(([, e]) => e.version);
    await this.dev.writev(extents, flush, barrier);
    written.forEach(([, e], i) => {
      if (e.version !== sent[i]) return;
      e.dirty = false;
      e.fresh = false;
    });
    if (written.length > 0) this.unflushed = !flush;
    else if (flush) this.unflushed = false;
    this.#writes += written.length;
  }
}
