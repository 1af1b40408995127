// mfs's buffer cache and read-ahead over a device that records each request: clustered
// reads and writes (runs of adjacent blocks in one request, a change's scattered blocks in
// one vectored request with its flush), the write order a crash relies on (fresh blocks
// first), and the wrong-bytes traps that only open when requests grow: a run read must not
// bring back a block older than the cache's copy, and a write-back that fails must not
// drop an acknowledged block.
import { describe, expect, it } from "vitest";
import { MkError } from "#abi";
import { MemoryBlockDevice, type Extent } from "../../services/fs/mfs/src/block-device.ts";
import { BufferCache } from "../../services/fs/mfs/src/buffer-cache.ts";
import { bmap } from "../../services/fs/mfs/src/inode.ts";
import { MinixFs } from "../../services/fs/mfs/src/minixfs.ts";
import { mkfs } from "../../services/fs/mfs/src/mkfs.ts";
import { ReadAhead } from "../../services/fs/mfs/src/read-ahead.ts";

const BS = 1024;
const MiB = 1024 * 1024;
const clock = { now: (): number => 1_700_000_000_000 };

type Request = { op: "read"; block: number; blocks: number } | { op: "writev"; extents: [number, number][]; flush: boolean };

/** A memory disk that records every request the cache makes, in blocks, and can refuse the next writes. */
class RecordingDevice extends MemoryBlockDevice {
  log: Request[] = [];
  failWrites = 0;
  /** A block whose sectors cannot be read. */
  badBlock = -1;
  override async read(lba: number, count: number): Promise<Uint8Array> {
    if (this.badBlock >= lba / 2 && this.badBlock < (lba + count) / 2) throw new MkError("EIO", `bad sector in block ${this.badBlock}`);
    this.log.push({ op: "read", block: lba / 2, blocks: count / 2 });
    return super.read(lba, count);
  }
  override async writev(extents: readonly Extent[], flush: boolean): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new MkError("EIO", "the driver gave up");
    }
    this.log.push({ op: "writev", extents: extents.map((e) => [e.lba / 2, e.data.length / BS]), flush });
    for (const e of extents) await super.write(e.lba, e.data);
    if (flush) await super.flush();
  }
  block(n: number): Uint8Array {
    return this.bytes.slice(n * BS, (n + 1) * BS);
  }
}

const filled = (v: number): Uint8Array => new Uint8Array(BS).fill(v);

describe("buffer cache", () => {
  it("mfs cache - a run read never replaces a block that was cached, even one evicted to make room for the run", async () => {
    const dev = new RecordingDevice(64 * 2);
    const cache = new BufferCache(dev, BS, 4);
    await cache.put(2, filled(0xaa)); // dirty, the least recently used
    for (const b of [10, 11, 12]) await cache.get(b);
    // Making room for blocks 0, 1 and 3 evicts block 2 (written back) before the run reaches it:
    // the bytes the run read for block 2 predate that write and must not be cached.
    await cache.readRun(0, 4);
    expect(dev.log.filter((r) => r.op === "read" && r.blocks === 4)).toHaveLength(1);
    expect(await cache.get(2)).toEqual(filled(0xaa));
    expect(dev.block(2)).toEqual(filled(0xaa));
  });

  it("mfs cache - a write-back that fails keeps the block cached and dirty, costs no other read, and the next sync writes it", async () => {
    const dev = new RecordingDevice(64 * 2);
    const cache = new BufferCache(dev, BS, 2);
    await cache.put(5, filled(1));
    await cache.get(6);
    dev.failWrites = 1;
    await cache.get(7); // evicting 5 fails: 6, clean, goes instead
    expect(cache.size).toBe(2);
    expect(await cache.get(5)).toEqual(filled(1));
    await cache.sync();
    expect(dev.block(5)).toEqual(filled(1));
  });

  it("mfs cache - a block the disk never takes back holds up no other read and the cache stays within its bound", async () => {
    const dev = new RecordingDevice(512 * 2);
    const cache = new BufferCache(dev, BS, 4);
    await cache.put(0, filled(9)); // dirty, and its sector has gone bad
    dev.failWrites = Number.POSITIVE_INFINITY;
    for (let b = 100; b < 300; b++) await cache.get(b);
    expect(cache.size).toBe(4);
    expect(await cache.get(0)).toEqual(filled(9));
    // Every block dirty and refused: a read is answered but not cached, a change fails with the device's error.
    const all = new BufferCache(dev, BS, 2);
    dev.failWrites = 0;
    await all.put(1, filled(1));
    await all.put(2, filled(2));
    dev.failWrites = Number.POSITIVE_INFINITY;
    expect(await all.get(300)).toHaveLength(BS);
    expect(all.size).toBe(2);
    await expect(all.put(3, filled(3))).rejects.toMatchObject({ errno: "EIO" });
    expect(all.size).toBe(3); // the change is kept, not lost: over the bound by the refused dirty blocks only
  });

  it("mfs cache - sync sends every dirty block in one request, fresh runs first, adjacent blocks as one extent, with its flush", async () => {
    const dev = new RecordingDevice(256 * 2);
    const cache = new BufferCache(dev, BS, 64);
    await cache.put(3, filled(3)); // an inode block, say
    await cache.put(40, filled(4)); // a directory block
    await cache.zeroed(100); // fresh data zones, adjacent
    await cache.zeroed(101);
    await cache.zeroed(102);
    await cache.put(41, filled(5));
    dev.log = [];
    await cache.sync();
    expect(dev.log).toEqual([
      {
        op: "writev",
        extents: [
          [100, 3],
          [3, 1],
          [40, 2],
        ],
        flush: true,
      },
    ]);
    dev.log = [];
    await cache.sync(); // nothing written since the flush: nothing to do
    expect(dev.log).toEqual([]);
  });

  it("mfs cache - evicting an old dirty block writes the fresh blocks first and the victim with the dirty blocks after it, in one request", async () => {
    const dev = new RecordingDevice(256 * 2);
    const cache = new BufferCache(dev, BS, 5);
    await cache.put(20, filled(1)); // least recently used: the victim
    await cache.put(21, filled(2));
    await cache.put(22, filled(3));
    await cache.zeroed(90);
    await cache.zeroed(91);
    dev.log = [];
    await cache.get(200); // over the bound
    expect(dev.log.filter((r) => r.op === "writev")).toEqual([
      {
        op: "writev",
        extents: [
          [90, 2],
          [20, 3],
        ],
        flush: false,
      },
    ]);
    expect(cache.size).toBe(5);
    dev.log = [];
    await cache.sync(); // all clean now: only the flush
    expect(dev.log).toEqual([{ op: "writev", extents: [], flush: true }]);
  });
});

describe("read-ahead", () => {
  it("mfs read-ahead - a sequential reader reads a window ahead at the window's middle, the window doubling to its bound; a random read starts it over", () => {
    const ra = new ReadAhead(32);
    const until: number[] = [];
    for (let b = 0; b < 80; b += 4) until.push(ra.plan(7, b, b + 3));
    // Reads of blocks 0-3, 4-7, ...: the last block to have cached after each.
    expect(until).toEqual([7, 15, 27, 27, 51, 51, 51, 51, 67, 67, 67, 67, 83, 83, 83, 83, 99, 99, 99, 99]);
    expect(ra.plan(7, 200, 203)).toBe(203); // random: nothing ahead
    expect(ra.plan(7, 204, 207)).toBe(211); // sequential again, from the smallest window
    expect(ra.plan(8, 5, 5)).toBe(5); // a first read not at the start is not taken as sequential
  });

  it("mfs read-ahead - a file read 4 KiB at a time takes a few large device reads, never past the file's last zone", async () => {
    const dev = new RecordingDevice((8 * MiB) / 512);
    await mkfs(dev, { now: clock.now() });
    let fs = await MinixFs.mount(dev, { clock, cacheBlocks: 1024 });
    const f = await fs.create(1, "f", 0o644);
    const size = 300 * 1024 + 100;
    const data = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 10)) & 0xff);
    await fs.write(f.ino, 0, data);
    await fs.unmount();
    fs = await MinixFs.mount(dev, { clock, cacheBlocks: 1024 }); // a cold cache
    dev.log = [];
    const back = new Uint8Array(size);
    for (let at = 0; at < size; at += 4096) back.set(await fs.read(f.ino, at, 4096), at);
    expect(back).toEqual(data);
    const reads = dev.log.filter((r): r is Extract<Request, { op: "read" }> => r.op === "read");
    const dataReads = reads.filter((r) => r.blocks > 1);
    // 301 blocks in 4-block reads would be 76 requests one read at a time; read-ahead makes them few.
    expect(reads.length).toBeLessThan(20);
    expect(Math.max(...dataReads.map((r) => r.blocks))).toBeGreaterThanOrEqual(64);
    // The file's zones end where its data ends: nothing read lies past the last one.
    const last = Math.max(...reads.map((r) => r.block + r.blocks - 1));
    const inode = await fs.inodeFor(f.ino);
    expect(last).toBe(await bmap(fs.vol, f.ino, inode, Math.floor((size - 1) / BS)));
  });

  it("mfs read-ahead - a bad sector ahead of a read does not fail the read", async () => {
    const dev = new RecordingDevice((8 * MiB) / 512);
    await mkfs(dev, { now: clock.now() });
    let fs = await MinixFs.mount(dev, { clock, cacheBlocks: 1024 });
    const f = await fs.create(1, "f", 0o644);
    const data = new Uint8Array(6 * BS).map((_, i) => i & 0xff);
    await fs.write(f.ino, 0, data);
    await fs.unmount();
    fs = await MinixFs.mount(dev, { clock, cacheBlocks: 1024 });
    const inode = await fs.inodeFor(f.ino);
    const bad = await bmap(fs.vol, f.ino, inode, 3); // read ahead of block 0, never asked for
    dev.badBlock = bad;
    expect(await fs.read(f.ino, 0, BS)).toEqual(data.subarray(0, BS));
    await expect(fs.read(f.ino, 3 * BS, BS)).rejects.toMatchObject({ errno: "EIO" });
  });
});
