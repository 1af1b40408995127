// Allocation from the inode and zone bitmaps (MINIX's alloc_bit/free_bit). Bit 0 of each map
// is reserved, so bit n is inode n, and zone bit n is zone firstdatazone + n - 1. The free
// count is taken once at mount and kept in step, so statfs and the ENOSPC checks made before
// an operation changes anything cost no disk reads.
import { MkError } from "#abi";
import type { BufferCache } from "./buffer-cache.ts";

export class Bitmap {
  readonly name: string;
  /** Highest usable bit (ninodes, or the number of data zones). */
  readonly last: number;
  free = 0;
  private readonly cache: BufferCache;
  private readonly start: number;
  private readonly bitsPerBlock: number;
  /** Where the next search starts: MINIX's i_search/z_search. */
  private hint = 1;

  private constructor(cache: BufferCache, start: number, last: number, name: string) {
    this.cache = cache;
    this.start = start;
    this.last = last;
    this.name = name;
    this.bitsPerBlock = cache.blockSize * 8;
  }

  static async load(cache: BufferCache, start: number, last: number, name: string): Promise<Bitmap> {
    const map = new Bitmap(cache, start, last, name);
    for (let b = 1; b <= last; ) {
      const block = await cache.get(start + Math.floor(b / map.bitsPerBlock));
      const end = Math.min(last, (Math.floor(b / map.bitsPerBlock) + 1) * map.bitsPerBlock - 1);
      for (; b <= end; b++) {
        const i = b % map.bitsPerBlock;
        if ((block[i >> 3] & (1 << (i & 7))) === 0) map.free++;
      }
    }
    return map;
  }

  private where(bit: number): { block: number; byte: number; mask: number } {
    if (!Number.isInteger(bit) || bit < 1 || bit > this.last)
      throw new MkError("EUCLEAN", `${this.name} bit ${bit} is out of range 1..${this.last}`);
    const i = bit % this.bitsPerBlock;
    return { block: this.start + Math.floor(bit / this.bitsPerBlock), byte: i >> 3, mask: 1 << (i & 7) };
  }

  async isSet(bit: number): Promise<boolean> {
    const w = this.where(bit);
    return ((await this.cache.get(w.block))[w.byte] & w.mask) !== 0;
  }

  /** Takes a free bit and returns it; ENOSPC when there is none. */
  async alloc(): Promise<number> {
    if (this.free <= 0) throw new MkError("ENOSPC", `no free ${this.name} bit`);
    for (let n = 0; n < this.last; n++) {
      const bit = ((this.hint - 1 + n) % this.last) + 1;
      const w = this.where(bit);
      const data = await this.cache.get(w.block);
      const rest = 7 - (bit & 7);
      if (data[w.byte] === 0xff && bit + rest <= this.last) {
        // Skip the rest of a full byte in one step (never across the wrap to bit 1).
        n += rest;
        continue;
      }
      if ((data[w.byte] & w.mask) !== 0) continue;
      data[w.byte] |= w.mask;
      await this.cache.put(w.block, data);
      this.free--;
      this.hint = bit;
      return bit;
    }
    throw new MkError("EUCLEAN", `${this.name}: the free count says ${this.free} but no bit is clear`);
  }

  async release(bit: number): Promise<void> {
    const w = this.where(bit);
    const data = await this.cache.get(w.block);
    if ((data[w.byte] & w.mask) === 0) throw new MkError("EUCLEAN", `${this.name} bit ${bit} freed twice`);
    data[w.byte] &= ~w.mask;
    await this.cache.put(w.block, data);
    this.free++;
    if (bit < this.hint) this.hint = bit;
  }
}
