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
import { MkError } from "#abi";
import { SECTOR_SIZE, type BlockDevice } from "./block-device.ts";

interface Entry {
  data: Uint8Array;
  dirty: boolean;
  /** Allocated since it last reached the device (dirty too). */
  fresh: boolean;
}

export class BufferCache {
  readonly dev: BlockDevice;
  readonly blockSize: number;
  readonly capacity: number;
  #hits = 0;
  #misses = 0;
  #writes = 0;
  private readonly sectorsPerBlock: number;
  /** Map iteration order is least recently used first. */
  private readonly entries = new Map<number, Entry>();

  constructor(dev: BlockDevice, blockSize: number, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new MkError("EINVAL", `cache of ${capacity} blocks`);
    this.dev = dev;
    this.blockSize = blockSize;
    this.capacity = capacity;
    this.sectorsPerBlock = blockSize / SECTOR_SIZE;
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
    await this.insert(block, { data, dirty: false, fresh: false });
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
      this.entries.set(block, e);
      return;
    }
    await this.insert(block, { data, dirty: true, fresh: false });
  }

  /** A freshly allocated block, all zeros: no read from the device, and written before any older block. */
  async zeroed(block: number): Promise<Uint8Array> {
    const data = new Uint8Array(this.blockSize);
    const e = this.entries.get(block);
    if (e === undefined) {
      await this.insert(block, { data, dirty: true, fresh: true });
      return data;
    }
    this.entries.delete(block);
    Object.assign(e, { data, dirty: true, fresh: true });
    this.entries.set(block, e);
    return data;
  }

  /**
   * Reads `count` blocks from `start` in as few device requests as it takes, into the
   * cache (a block already cached is kept as it is): the check at mount reads all the
   * metadata this way, not one block per request.
   */
  async prefetch(start: number, count: number): Promise<void> {
    const n = Math.min(count, this.capacity);
    const data = await this.dev.read(start * this.sectorsPerBlock, n * this.sectorsPerBlock);
    for (let i = 0; i < n; i++) {
      if (this.entries.has(start + i)) continue;
      this.#misses++;
      await this.insert(start + i, { data: data.slice(i * this.blockSize, (i + 1) * this.blockSize), dirty: false, fresh: false });
    }
  }

  /** Dirty blocks to the device (fresh ones first), then a flush; nothing to flush when nothing was written since the last. */
  async sync(): Promise<void> {
    await this.writeFresh();
    const dirty = [...this.entries.entries()].filter(([, e]) => e.dirty).sort((a, b) => a[0] - b[0]);
    for (const [block, e] of dirty) await this.writeOut(block, e);
    if (!this.unflushed) return;
    await this.dev.flush();
    this.unflushed = false;
  }

  /** Blocks were written since the last flush (by the cache, or by the caller straight to the device). */
  unflushed = true;

  /** Forgets every block without writing (after the device was changed behind the cache). */
  invalidate(): void {
    this.entries.clear();
  }

  private async insert(block: number, e: Entry): Promise<void> {
    this.entries.set(block, e);
    while (this.entries.size > this.capacity) {
      const [oldest, victim] = this.entries.entries().next().value as [number, Entry];
      this.entries.delete(oldest);
      if (!victim.dirty) continue;
      if (!victim.fresh) await this.writeFresh();
      await this.writeOut(oldest, victim);
    }
  }

  /** Every fresh block, in ascending order: before an older block, which may point to them, is written. */
  private async writeFresh(): Promise<void> {
    const fresh = [...this.entries.entries()].filter(([, e]) => e.fresh).sort((a, b) => a[0] - b[0]);
    for (const [block, e] of fresh) await this.writeOut(block, e);
  }

  private async writeOut(block: number, e: Entry): Promise<void> {
    await this.dev.write(block * this.sectorsPerBlock, e.data);
    this.unflushed = true;
    e.dirty = false;
    e.fresh = false;
    this.#writes++;
  }
}
