// MinixFs over a MemoryBlockDevice made by our mkfs: every operation and its errno, sparse
// and large files, space accounting, the clean flag, and a model test that runs random
// operation sequences against an in-memory model and fsck after each one.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MkError } from "#abi";
import { MemoryBlockDevice } from "../../services/fs/mfs/src/block-device.ts";
import { KilledDevice } from "../helpers/killed-device.ts";
import { FLAG_CLEAN, S_IFDIR, S_IFREG, decodeSuper } from "../../services/fs/mfs/src/disk-format.ts";
import { fsck } from "../../services/fs/mfs/src/fsck.ts";
import { readInode, writeInode } from "../../services/fs/mfs/src/inode.ts";
import { MinixFs } from "../../services/fs/mfs/src/minixfs.ts";
import { mkfs, type MkfsOptions } from "../../services/fs/mfs/src/mkfs.ts";

const MiB = 1024 * 1024;
const clock = { now: (): number => 1_700_000_000_000 };

async function fresh(bytes = 4 * MiB, o: MkfsOptions = {}, cacheBlocks?: number): Promise<{ dev: MemoryBlockDevice; fs: MinixFs }> {
  const dev = new MemoryBlockDevice(bytes / 512);
  await mkfs(dev, { now: clock.now(), ...o });
  return { dev, fs: await MinixFs.mount(dev, { clock, cacheBlocks }) };
}

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MkError) return e.errno;
    throw e;
  }
  return "OK";
}

async function checkClean(dev: MemoryBlockDevice, fs: MinixFs): Promise<void> {
  await fs.sync();
  const r = await fsck(dev, { repair: false });
  expect(r.problems).toEqual([]);
  expect(r.clean).toBe(true);
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return out;
}

/** statfs without the I/O counts, which every operation moves. */
async function space(fs: MinixFs): Promise<Omit<Awaited<ReturnType<MinixFs["statfs"]>>, "io">> {
  const { io: _, ...rest } = await fs.statfs();
  return rest;
}

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("minix file system", () => {
  it("minix - mkfs makes a disk that mounts with an empty root and the clean flag set", async () => {
    const { dev, fs } = await fresh();
    expect(fs.wasClean).toBe(true);
    expect(fs.root).toBe(1);
    const root = await fs.stat(1);
    expect(root.mode).toBe(S_IFDIR | 0o755);
    expect(root.nlinks).toBe(2);
    expect((await fs.readdir(1, 0, 10)).entries.map((e) => [e.name, e.ino, e.type])).toEqual([
      [".", 1, "dir"],
      ["..", 1, "dir"],
    ]);
    const st = await fs.statfs();
    expect(st).toMatchObject({ blockSize: 1024, blocks: 4096, inodes: 1376, freeInodes: 1375, nameMax: 60 });
    // Mounted: the flag is off on disk until unmount.
    expect(decodeSuper(dev.bytes.subarray(1024, 2048), dev.bytes.length).flags & FLAG_CLEAN).toBe(0);
    await fs.unmount();
    expect(decodeSuper(dev.bytes.subarray(1024, 2048), dev.bytes.length).flags & FLAG_CLEAN).toBe(FLAG_CLEAN);
    const again = await MinixFs.mount(dev, { clock });
    expect(again.wasClean).toBe(true);
    // Not unmounted: the next mount sees it was not clean.
    expect((await MinixFs.mount(dev, { clock })).wasClean).toBe(false);
  });

  it("minix - mkfs refuses devices too small and inode counts the superblock cannot hold", async () => {
    expect(await errnoOf(mkfs(new MemoryBlockDevice(8)))).toBe("EINVAL");
    expect(await errnoOf(mkfs(new MemoryBlockDevice(2048), { inodes: 1e9 }))).toBe("EINVAL");
  });

  it("minix - create, lookup and stat answer with the right errno for each misuse", async () => {
    const { fs } = await fresh();
    const f = await fs.create(1, "file", 0o644);
    expect(f.mode).toBe(S_IFREG | 0o644);
    expect(f.nlinks).toBe(1);
    expect(f.ctime).toBe(1_700_000_000);
    expect((await fs.lookup(1, "file")).ino).toBe(f.ino);
    expect(await errnoOf(fs.create(1, "file", 0o644))).toBe("EEXIST");
    expect(await errnoOf(fs.lookup(1, "nothing"))).toBe("ENOENT");
    expect(await errnoOf(fs.lookup(f.ino, "x"))).toBe("ENOTDIR");
    expect(await errnoOf(fs.create(f.ino, "x", 0o644))).toBe("ENOTDIR");
    expect(await errnoOf(fs.lookup(1, ""))).toBe("EINVAL");
    expect(await errnoOf(fs.lookup(1, "a/b"))).toBe("EINVAL");
    expect(await errnoOf(fs.create(1, "a\0b", 0o644))).toBe("EINVAL");
    expect(await errnoOf(fs.create(1, "x".repeat(61), 0o644))).toBe("ENAMETOOLONG");
    expect(await errnoOf(fs.create(1, "é".repeat(31), 0o644))).toBe("ENAMETOOLONG");
    const long = await fs.create(1, "é".repeat(30), 0o644);
    expect((await fs.lookup(1, "é".repeat(30))).ino).toBe(long.ino);
    expect((await fs.readdir(1, 0, 10)).entries.map((e) => e.name)).toContain("é".repeat(30));
    expect(await errnoOf(fs.stat(0))).toBe("ESTALE");
    expect(await errnoOf(fs.stat(100_000))).toBe("ESTALE");
    expect(await errnoOf(fs.stat(f.ino + 5))).toBe("ESTALE");
  });

  it("minix - read is short at EOF and empty past it; directories refuse read and write with EISDIR", async () => {
    const { fs } = await fresh();
    const f = await fs.create(1, "f", 0o644);
    expect(await fs.write(f.ino, 0, new TextEncoder().encode("hello world"))).toBe(11);
    expect(new TextDecoder().decode(await fs.read(f.ino, 6, 100))).toBe("world");
    expect((await fs.read(f.ino, 11, 10)).length).toBe(0);
    expect((await fs.read(f.ino, 50, 10)).length).toBe(0);
    expect(await errnoOf(fs.read(1, 0, 10))).toBe("EISDIR");
    expect(await errnoOf(fs.write(1, 0, new Uint8Array(1)))).toBe("EISDIR");
    expect(await errnoOf(fs.read(f.ino, -1, 10))).toBe("EINVAL");
    expect(await errnoOf(fs.write(f.ino, 0x7fffffff, new Uint8Array(2)))).toBe("EFBIG");
    expect(await errnoOf(fs.truncate(f.ino, 0x80000000))).toBe("EFBIG");
  });

  it("minix - a write at 10 MiB allocates only the zones it touches and the holes read as zeros", async () => {
    const { dev, fs } = await fresh();
    const before = (await fs.statfs()).freeBlocks;
    const f = await fs.create(1, "sparse", 0o644);
    await fs.write(f.ino, 10 * MiB, new Uint8Array([1, 2, 3]));
    const st = await fs.stat(f.ino);
    expect(st.size).toBe(10 * MiB + 3);
    // One data zone, the double indirect block and one block under it.
    expect(before - (await fs.statfs()).freeBlocks).toBe(3);
    expect(st.blocks).toBe(6);
    expect(await fs.read(f.ino, 10 * MiB - 2, 5)).toEqual(new Uint8Array([0, 0, 1, 2, 3]));
    expect((await fs.read(f.ino, 5 * MiB, 4096)).every((b) => b === 0)).toBe(true);
    await checkClean(dev, fs);
  });

  it("minix - an 8 MiB file with 1 KiB blocks goes through the double indirect block and reads back", async () => {
    const { dev, fs } = await fresh(16 * MiB);
    const f = await fs.create(1, "big", 0o644);
    const data = pattern(8 * MiB, 1);
    for (let off = 0; off < data.length; off += 300_000) await fs.write(f.ino, off, data.subarray(off, off + 300_000));
    // 8192 data zones, one single indirect, one double with 31 blocks under it.
    expect((await fs.stat(f.ino)).blocks).toBe((8192 + 1 + 1 + 31) * 2);
    expect(sha(await fs.read(f.ino, 0, 8 * MiB))).toBe(sha(data));
    await checkClean(dev, fs);
  });

  it("minix - 4 KiB blocks hold files past the direct zones too", async () => {
    const { dev, fs } = await fresh(8 * MiB, { blockSize: 4096 });
    expect((await fs.statfs()).blockSize).toBe(4096);
    const f = await fs.create(1, "big", 0o644);
    const data = pattern(5 * MiB, 2);
    await fs.write(f.ino, 0, data);
    expect(sha(await fs.read(f.ino, 0, data.length))).toBe(sha(data));
    await checkClean(dev, fs);
  });

  it("minix - truncate frees zones and indirect blocks, and zeroes the tail of the last zone", async () => {
    const { dev, fs } = await fresh(16 * MiB);
    const before = (await fs.statfs()).freeBlocks;
    const f = await fs.create(1, "t", 0o644);
    const after = (await fs.statfs()).freeBlocks;
    await fs.write(f.ino, 0, pattern(8 * MiB, 3));
    await fs.truncate(f.ino, 200 * 1024);
    // 200 data zones and the single indirect block; the double indirect tree is gone.
    expect((await fs.stat(f.ino)).blocks).toBe((200 + 1) * 2);
    await fs.truncate(f.ino, 0);
    expect((await fs.statfs()).freeBlocks).toBe(after);
    expect(after).toBe(before);
    await fs.write(f.ino, 0, new Uint8Array(3000).fill(0xff));
    await fs.truncate(f.ino, 1000);
    await fs.truncate(f.ino, 3000);
    const back = await fs.read(f.ino, 0, 3000);
    expect(back.subarray(0, 1000).every((b) => b === 0xff)).toBe(true);
    expect(back.subarray(1000).every((b) => b === 0)).toBe(true);
    expect(await errnoOf(fs.truncate(1, 0))).toBe("EISDIR");
    await checkClean(dev, fs);
  });

  it("minix - a directory of 3000 entries is searched and listed in pages", async () => {
    const { dev, fs } = await fresh(8 * MiB, { inodes: 4000 });
    const d = await fs.mkdir(1, "many", 0o755);
    for (let i = 0; i < 3000; i++) await fs.create(d.ino, `entry-${i}`, 0o644);
    expect((await fs.lookup(d.ino, "entry-2999")).ino).toBeGreaterThan(0);
    const names: string[] = [];
    let cookie: number | undefined = 0;
    while (cookie !== undefined) {
      const page: { entries: { name: string }[]; next?: number } = await fs.readdir(d.ino, cookie, 500);
      names.push(...page.entries.map((e) => e.name));
      cookie = page.next;
    }
    expect(names.length).toBe(3002);
    expect(new Set(names).size).toBe(3002);
    // A removed entry's slot is reused by the next create.
    const size = (await fs.stat(d.ino)).size;
    await fs.unlink(d.ino, "entry-10");
    await fs.create(d.ino, "again", 0o644);
    expect((await fs.stat(d.ino)).size).toBe(size);
    await checkClean(dev, fs);
  });

  it("minix - mkdir, rmdir and unlink keep link counts and refuse what POSIX refuses", async () => {
    const { dev, fs } = await fresh();
    const d = await fs.mkdir(1, "d", 0o755);
    expect(d.nlinks).toBe(2);
    expect((await fs.stat(1)).nlinks).toBe(3);
    expect((await fs.lookup(d.ino, "..")).ino).toBe(1);
    expect((await fs.lookup(d.ino, ".")).ino).toBe(d.ino);
    const f = await fs.create(d.ino, "f", 0o644);
    expect(await errnoOf(fs.mkdir(1, "d", 0o755))).toBe("EEXIST");
    expect(await errnoOf(fs.unlink(1, "d"))).toBe("EISDIR");
    expect(await errnoOf(fs.rmdir(1, "d"))).toBe("ENOTEMPTY");
    expect(await errnoOf(fs.rmdir(d.ino, "f"))).toBe("ENOTDIR");
    expect(await errnoOf(fs.rmdir(d.ino, "."))).toBe("EINVAL");
    expect(await errnoOf(fs.rmdir(d.ino, ".."))).toBe("EINVAL");
    expect(await errnoOf(fs.rmdir(1, "nothing"))).toBe("ENOENT");
    await fs.unlink(d.ino, "f");
    expect(await errnoOf(fs.stat(f.ino))).toBe("ESTALE");
    await fs.rmdir(1, "d");
    expect((await fs.stat(1)).nlinks).toBe(2);
    expect(await errnoOf(fs.stat(d.ino))).toBe("ESTALE");
    // EMLINK: a parent already at the 16-bit link limit.
    const p = await fs.mkdir(1, "p", 0o755);
    const raw = await readInode(fs.vol, p.ino);
    raw.nlinks = 0xffff;
    await writeInode(fs.vol, p.ino, raw);
    expect(await errnoOf(fs.mkdir(p.ino, "sub", 0o755))).toBe("EMLINK");
    raw.nlinks = 2;
    await writeInode(fs.vol, p.ino, raw);
    await checkClean(dev, fs);
  });

  it("minix - rename replaces files, moves directories with their '..' and refuses the POSIX cases", async () => {
    const { dev, fs } = await fresh();
    const a = await fs.mkdir(1, "a", 0o755);
    const b = await fs.mkdir(1, "b", 0o755);
    const f = await fs.create(a.ino, "f", 0o644);
    const g = await fs.create(a.ino, "g", 0o644);
    await fs.write(g.ino, 0, new Uint8Array(5000));
    const freeInodes = (await fs.statfs()).freeInodes;
    await fs.rename(a.ino, "f", a.ino, "g");
    expect((await fs.lookup(a.ino, "g")).ino).toBe(f.ino);
    expect(await errnoOf(fs.lookup(a.ino, "f"))).toBe("ENOENT");
    expect((await fs.statfs()).freeInodes).toBe(freeInodes + 1);
    await fs.rename(a.ino, "g", a.ino, "g");
    // A directory moves: '..' and both parents' link counts follow.
    const sub = await fs.mkdir(a.ino, "sub", 0o755);
    await fs.rename(a.ino, "sub", b.ino, "moved");
    expect((await fs.lookup(sub.ino, "..")).ino).toBe(b.ino);
    expect((await fs.stat(a.ino)).nlinks).toBe(2);
    expect((await fs.stat(b.ino)).nlinks).toBe(3);
    // A directory replaces an empty one.
    await fs.rename(1, "a", b.ino, "moved");
    expect((await fs.lookup(b.ino, "moved")).ino).toBe(a.ino);
    expect((await fs.lookup(a.ino, "..")).ino).toBe(b.ino);
    expect((await fs.stat(b.ino)).nlinks).toBe(3);
    expect((await fs.stat(1)).nlinks).toBe(3);
    expect(await errnoOf(fs.stat(sub.ino))).toBe("ESTALE");
    await fs.create(1, "file", 0o644);
    await fs.mkdir(1, "dir", 0o755);
    await fs.create(b.ino, "x", 0o644);
    expect(await errnoOf(fs.rename(1, "file", 1, "dir"))).toBe("EISDIR");
    expect(await errnoOf(fs.rename(1, "dir", 1, "file"))).toBe("ENOTDIR");
    expect(await errnoOf(fs.rename(1, "dir", 1, "b"))).toBe("ENOTEMPTY");
    expect(await errnoOf(fs.rename(1, "b", a.ino, "inside"))).toBe("EINVAL");
    expect(await errnoOf(fs.rename(1, "b", b.ino, "self"))).toBe("EINVAL");
    // EMLINK: moving a directory under a parent already at the 16-bit link limit.
    const full = await readInode(fs.vol, b.ino);
    full.nlinks = 0xffff;
    await writeInode(fs.vol, b.ino, full);
    expect(await errnoOf(fs.rename(1, "dir", b.ino, "dir"))).toBe("EMLINK");
    full.nlinks = 3;
    await writeInode(fs.vol, b.ino, full);
    expect(await errnoOf(fs.rename(1, "nothing", 1, "x"))).toBe("ENOENT");
    expect(await errnoOf(fs.rename(1, ".", 1, "x"))).toBe("EINVAL");
    expect(await errnoOf(fs.rename(1, "file", 1, ".."))).toBe("EINVAL");
    await checkClean(dev, fs);
  });

  it("minix - setattr changes permission bits, owner and times but never the file type", async () => {
    const { fs } = await fresh();
    const f = await fs.create(1, "f", 0o644);
    const st = await fs.setattr(f.ino, { mode: S_IFDIR | 0o600, uid: 1000, gid: 100, atime: 5, mtime: 6 });
    expect(st).toMatchObject({ mode: S_IFREG | 0o600, uid: 1000, gid: 100, atime: 5, mtime: 6, ctime: 1_700_000_000 });
    expect(await errnoOf(fs.setattr(f.ino, { uid: 70_000 }))).toBe("EINVAL");
  });

  it("minix - a full disk refuses a write with ENOSPC and changes nothing already stored", async () => {
    const { dev, fs } = await fresh(MiB);
    const keep = await fs.create(1, "keep", 0o644);
    const data = pattern(100_000, 4);
    await fs.write(keep.ino, 0, data);
    const f = await fs.create(1, "fill", 0o644);
    const before = await space(fs);
    expect(await errnoOf(fs.write(f.ino, 0, new Uint8Array(2 * MiB)))).toBe("ENOSPC");
    expect(await space(fs)).toEqual(before);
    expect((await fs.stat(f.ino)).size).toBe(0);
    // Fill it exactly, then one byte more needs a zone.
    let off = 0;
    while ((await errnoOf(fs.write(f.ino, off, new Uint8Array(1024).fill(1)))) === "OK") off += 1024;
    expect((await fs.statfs()).freeBlocks).toBe(0);
    expect(await errnoOf(fs.mkdir(1, "d", 0o755))).toBe("ENOSPC");
    expect(sha(await fs.read(keep.ino, 0, data.length))).toBe(sha(data));
    await checkClean(dev, fs);
  });

  it("minix - a full inode table refuses create and mkdir with ENOSPC and changes nothing", async () => {
    const { dev, fs } = await fresh(MiB, { inodes: 16 });
    for (let i = 0; i < 15; i++) await fs.create(1, `f${i}`, 0o644);
    const before = await space(fs);
    expect(before.freeInodes).toBe(0);
    expect(await errnoOf(fs.create(1, "more", 0o644))).toBe("ENOSPC");
    expect(await errnoOf(fs.mkdir(1, "more", 0o755))).toBe("ENOSPC");
    expect(await space(fs)).toEqual(before);
    expect(await errnoOf(fs.lookup(1, "more"))).toBe("ENOENT");
    await checkClean(dev, fs);
  });

  it("minix - an unlinked file that is still open is freed at its last release", async () => {
    const { dev, fs } = await fresh();
    const before = await space(fs);
    const f = await fs.create(1, "f", 0o644);
    await fs.write(f.ino, 0, pattern(20_000, 5));
    fs.open(f.ino);
    fs.open(f.ino);
    await fs.unlink(1, "f");
    expect((await fs.read(f.ino, 0, 5)).length).toBe(5);
    await fs.release(f.ino);
    expect((await fs.stat(f.ino)).nlinks).toBe(0);
    await fs.release(f.ino);
    expect(await errnoOf(fs.stat(f.ino))).toBe("ESTALE");
    expect(await space(fs)).toEqual(before);
    expect(await errnoOf(fs.release(f.ino))).toBe("EINVAL");
    // Held at unmount: freed then.
    const g = await fs.create(1, "g", 0o644);
    fs.open(g.ino);
    await fs.unlink(1, "g");
    await fs.unmount();
    expect((await fsck(dev, { repair: false })).clean).toBe(true);
  });

  it("minix - damaged pointers and entries on disk are EUCLEAN, not crashes", async () => {
    const { fs } = await fresh();
    const f = await fs.create(1, "f", 0o644);
    await fs.write(f.ino, 0, new Uint8Array(100));
    const raw = await readInode(fs.vol, f.ino);
    raw.zone[0] = 3; // inside the inode table
    await writeInode(fs.vol, f.ino, raw);
    expect(await errnoOf(fs.read(f.ino, 0, 10))).toBe("EUCLEAN");
    raw.zone[0] = 0;
    raw.zone[7] = 0xfffffff0;
    raw.size = 1 << 20;
    await writeInode(fs.vol, f.ino, raw);
    expect(await errnoOf(fs.read(f.ino, 100 * 1024, 10))).toBe("EUCLEAN");
    // An entry naming a free inode, then one out of range.
    const g = await fs.create(1, "g", 0o644);
    await fs.vol.imap.release(g.ino);
    expect(await errnoOf(fs.lookup(1, "g"))).toBe("EUCLEAN");
    const root = await readInode(fs.vol, 1);
    const block = await fs.vol.cache.get(root.zone[0]);
    new DataView(block.buffer, block.byteOffset).setUint32(3 * 64, 999_999, true);
    await fs.vol.cache.put(root.zone[0], block);
    expect(await errnoOf(fs.lookup(1, "g"))).toBe("EUCLEAN");
    expect(await errnoOf(fs.readdir(1, 0, 10))).toBe("EUCLEAN");
  });

  it("minix - the buffer cache stays within its bound, counts hits and misses, and writes back only at sync or eviction", async () => {
    const { dev, fs } = await fresh(4 * MiB, {}, 16);
    const f = await fs.create(1, "f", 0o644);
    await fs.write(f.ino, 0, pattern(200_000, 6));
    expect(fs.vol.cache.size).toBeLessThanOrEqual(16);
    expect(fs.vol.cache.misses).toBeGreaterThan(0);
    await fs.read(f.ino, 0, 1000);
    await fs.read(f.ino, 0, 1000);
    expect(fs.vol.cache.hits).toBeGreaterThan(0);
    const flushes = dev.io.flushes;
    const writes = fs.vol.cache.writes;
    await fs.write(f.ino, 0, new Uint8Array([9]));
    expect(fs.vol.cache.writes).toBe(writes);
    await fs.sync();
    expect(fs.vol.cache.writes).toBeGreaterThan(writes);
    expect(dev.io.flushes).toBe(flushes + 1);
    await checkClean(dev, fs);
  });
});

// The model: path -> file contents, or null for a directory. Paths are names joined by "/".
type Model = Map<string, Uint8Array | null>;
type Op =
  | { k: "create" | "mkdir" | "unlink" | "rmdir"; dir: string[]; name: string }
  | { k: "write"; path: string[]; offset: number; len: number; byte: number }
  | { k: "truncate"; path: string[]; size: number }
  | { k: "rename"; dir: string[]; name: string; dir2: string[]; name2: string };

const NAMES = ["a", "b", "c"];
const pathArb = fc.array(fc.constantFrom("a", "b"), { maxLength: 2 });
const nameArb = fc.constantFrom(...NAMES);
const filePathArb = fc.tuple(fc.array(fc.constantFrom("a", "b"), { maxLength: 1 }), nameArb).map(([d, n]) => [...d, n]);
const entryOp = (k: "create" | "mkdir" | "unlink" | "rmdir"): fc.Arbitrary<Op> =>
  fc.record({ k: fc.constant(k), dir: pathArb, name: nameArb });
// Weighted toward making things, so sequences build trees deep enough to rename and remove.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: entryOp("create"), weight: 3 },
  { arbitrary: entryOp("mkdir"), weight: 3 },
  { arbitrary: entryOp("unlink"), weight: 1 },
  { arbitrary: entryOp("rmdir"), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant("write" as const),
      path: filePathArb,
      offset: fc.oneof(fc.nat(20_000), fc.constant(300_000)),
      len: fc.nat(5000),
      byte: fc.integer({ min: 1, max: 255 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ k: fc.constant("truncate" as const), path: filePathArb, size: fc.oneof(fc.nat(20_000), fc.constant(0)) }),
    weight: 1,
  },
  { arbitrary: fc.record({ k: fc.constant("rename" as const), dir: pathArb, name: nameArb, dir2: pathArb, name2: nameArb }), weight: 2 },
);

const join = (dir: string[], name?: string): string => [...dir, ...(name === undefined ? [] : [name])].join("/");
const children = (m: Model, p: string): string[] =>
  [...m.keys()].filter(
    (k) => k !== p && k.startsWith(p === "" ? "" : `${p}/`) && k !== "" && !k.slice(p === "" ? 0 : p.length + 1).includes("/"),
  );

/** What the model says an operation does: an errno, or "OK" after changing the model. */
function applyModel(m: Model, op: Op): string {
  if (op.k === "write" || op.k === "truncate") {
    const data = m.get(join(op.path));
    if (data === undefined) return "ENOENT";
    if (data === null) return "EISDIR";
    // A write of nothing does not extend the file (POSIX).
    if (op.k === "write" && op.len === 0) return "OK";
    const end = op.k === "write" ? Math.max(data.length, op.offset + op.len) : op.size;
    const next = new Uint8Array(end);
    next.set(data.subarray(0, Math.min(data.length, end)));
    if (op.k === "write") next.fill(op.byte, op.offset, op.offset + op.len);
    m.set(join(op.path), next);
    return "OK";
  }
  const p = join(op.dir, op.name);
  const cur = m.get(p);
  if (op.k === "create" || op.k === "mkdir") {
    if (cur !== undefined) return "EEXIST";
    m.set(p, op.k === "create" ? new Uint8Array(0) : null);
    return "OK";
  }
  if (op.k === "unlink" || op.k === "rmdir") {
    if (cur === undefined) return "ENOENT";
    if (op.k === "unlink" && cur === null) return "EISDIR";
    if (op.k === "rmdir" && cur !== null) return "ENOTDIR";
    if (op.k === "rmdir" && children(m, p).length > 0) return "ENOTEMPTY";
    m.delete(p);
    return "OK";
  }
  if (op.k !== "rename") return "SKIP";
  const q = join(op.dir2, op.name2);
  if (cur === undefined) return "ENOENT";
  const dst = m.get(q);
  if (p === q) return "OK";
  if (dst !== undefined) {
    if (cur === null && dst !== null) return "ENOTDIR";
    if (cur !== null && dst === null) return "EISDIR";
    if (dst === null && children(m, q).length > 0) return "ENOTEMPTY";
  }
  if (cur === null && join(op.dir2) !== join(op.dir) && `${q}/`.startsWith(`${p}/`)) return "EINVAL";
  m.delete(q);
  for (const k of [...m.keys()]) {
    if (k === p || k.startsWith(`${p}/`)) {
      const v = m.get(k) as Uint8Array | null;
      m.delete(k);
      m.set(q + k.slice(p.length), v);
    }
  }
  return "OK";
}

async function resolve(fs: MinixFs, path: string[]): Promise<number> {
  let ino = fs.root;
  for (const n of path) ino = (await fs.lookup(ino, n)).ino;
  return ino;
}

async function applyFs(fs: MinixFs, m: Model, op: Op): Promise<string> {
  const parentOk = (dir: string[]): boolean => m.get(join(dir)) === null;
  if (op.k === "write" || op.k === "truncate") {
    if (m.get(join(op.path)) === undefined) return "ENOENT";
    const ino = await resolve(fs, op.path);
    return errnoOf(op.k === "write" ? fs.write(ino, op.offset, new Uint8Array(op.len).fill(op.byte)) : fs.truncate(ino, op.size));
  }
  if (!parentOk(op.dir)) return "SKIP";
  const dir = await resolve(fs, op.dir);
  if (op.k === "create") return errnoOf(fs.create(dir, op.name, 0o644));
  if (op.k === "mkdir") return errnoOf(fs.mkdir(dir, op.name, 0o755));
  if (op.k === "unlink") return errnoOf(fs.unlink(dir, op.name));
  if (op.k === "rmdir") return errnoOf(fs.rmdir(dir, op.name));
  if (op.k !== "rename" || !parentOk(op.dir2)) return "SKIP";
  return errnoOf(fs.rename(dir, op.name, await resolve(fs, op.dir2), op.name2));
}

describe("minix file system against a model", () => {
  it("minix - random create/write/truncate/unlink/mkdir/rmdir/rename sequences match the model and leave fsck clean", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40 }), async (ops) => {
        const { dev, fs } = await fresh(2 * MiB);
        const model: Model = new Map([["", null]]);
        const free0 = await fs.statfs();
        for (const op of ops) {
          const got = await applyFs(fs, model, op);
          if (got === "SKIP") continue;
          expect(got, JSON.stringify(op)).toBe(applyModel(model, op));
        }
        for (const [path, data] of model) {
          const ino = await resolve(fs, path === "" ? [] : path.split("/"));
          if (data === null) {
            const names = (await fs.readdir(ino, 0, 100)).entries.map((e) => e.name).filter((n) => n !== "." && n !== "..");
            expect(names.sort()).toEqual(
              children(model, path)
                .map((k) => k.split("/").pop())
                .sort(),
            );
          } else {
            expect(sha(await fs.read(ino, 0, data.length + 10))).toBe(sha(data));
          }
        }
        await checkClean(dev, fs);
        // Removing everything gives back every zone and inode: nothing leaked.
        const paths = [...model.keys()].filter((k) => k !== "").sort((x, y) => y.split("/").length - x.split("/").length);
        for (const p of paths) {
          const parts = p.split("/");
          const dir = await resolve(fs, parts.slice(0, -1));
          if (model.get(p) === null) await fs.rmdir(dir, parts[parts.length - 1]);
          else await fs.unlink(dir, parts[parts.length - 1]);
        }
        const end = await fs.statfs();
        expect(end.freeInodes).toBe(free0.freeInodes);
        expect(end.freeBlocks).toBe(free0.freeBlocks);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

/** A disk full of old bytes (xorshift32 from `seed`) under a fresh file system, so a block read before it was written shows. */
async function usedDisk(seed: number): Promise<KilledDevice> {
  const dev = new KilledDevice((2 * MiB) / 512);
  let x = seed | 1;
  for (let i = 0; i < dev.bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    dev.bytes[i] = x & 0xff;
  }
  await mkfs(dev, { now: clock.now() });
  dev.writes = 0;
  return dev;
}

/** Runs `ops` over the disk, each one synced as mfs syncs a change; the model of what finished, and the op that was killed. */
async function runUntilKilled(dev: KilledDevice, ops: Op[]): Promise<{ model: Model; before: Model; killed?: Op }> {
  const budget = dev.budget;
  dev.budget = Infinity;
  const fs = await MinixFs.mount(dev, { clock, cacheBlocks: 8 });
  dev.writes = 0;
  dev.budget = budget;
  const model: Model = new Map([["", null]]);
  for (const op of ops) {
    const before = new Map(model);
    try {
      const got = await applyFs(fs, model, op);
      if (got === "SKIP") continue;
      await fs.sync();
      expect(got, JSON.stringify(op)).toBe(applyModel(model, op));
    } catch (e) {
      if (!(e instanceof MkError && e.message === "killed")) throw e;
      return { model: before, before, killed: op };
    }
  }
  return { model, before: model };
}

/** Paths the op may have changed, each with everything under it. */
function touched(op: Op): string[] {
  if (op.k === "write" || op.k === "truncate") return [join(op.path)];
  if (op.k === "rename") return [join(op.dir, op.name), join(op.dir2, op.name2)];
  return [join(op.dir, op.name)];
}
const under = (p: string, roots: string[]): boolean => roots.some((r) => p === r || p.startsWith(`${r}/`));

/** Every file and directory on the disk, by path. */
async function listTree(fs: MinixFs, ino = fs.root, prefix = "", out: Model = new Map([["", null]])): Promise<Model> {
  for (const e of (await fs.readdir(ino, 0, 1000)).entries) {
    if (e.name === "." || e.name === "..") continue;
    const p = prefix === "" ? e.name : `${prefix}/${e.name}`;
    const st = await fs.stat(e.ino);
    if ((st.mode & S_IFDIR) === S_IFDIR) {
      out.set(p, null);
      await listTree(fs, e.ino, p, out);
    } else out.set(p, await fs.read(e.ino, 0, st.size));
  }
  return out;
}

describe("minix file system killed in the middle of a write", () => {
  // mfs is killed at any write to the disk (the chaos soak's kill -9): the check at the next
  // mount must find nothing worse than what it repairs by dropping or marking (no zone
  // number from old bytes, no zone in two files), everything the killed operation did not
  // touch must read as before, and a file the killed write or truncate touched holds, byte
  // by byte, what it held, what it was to hold, or zeros, never old bytes of the disk.
  it("minix - a kill at any write, torn part way, leaves no stale zone pointers, no cross-links and no stale bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 10, maxLength: 40 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 300 }),
        async (ops, seed, at, torn) => {
          const dry = await usedDisk(seed);
          await runUntilKilled(dry, ops);
          const dev = await usedDisk(seed);
          const budget = Math.floor(at * dry.writes);
          Object.assign(dev, { budget, torn });
          const { model, killed } = await runUntilKilled(dev, ops);
          dev.budget = Infinity;
          const where = `killed at write ${budget + 1} of ${dry.writes} (${torn} sectors of it written) in ${JSON.stringify(killed)}`;
          const report = await fsck(dev, { repair: true });
          expect(
            report.problems.filter((p) => p.kind === "zone-range" || p.kind === "zone-dup"),
            where,
          ).toEqual([]);
          expect((await fsck(dev, { repair: false })).problems, where).toEqual([]);
          const fs = await MinixFs.mount(dev, { clock });
          const disk = await listTree(fs);
          const changed = killed === undefined ? [] : touched(killed);
          const after = new Map(model);
          if (killed !== undefined) applyModel(after, killed);
          for (const [p, want] of model) {
            if (under(p, changed)) continue;
            expect(disk.has(p), `${p} lost, ${where}`).toBe(true);
            if (want === null) expect(disk.get(p), `${p}, ${where}`).toBe(null);
            else expect(sha(disk.get(p) as Uint8Array), `${p}, ${where}`).toBe(sha(want));
          }
          if (killed?.k === "write" || killed?.k === "truncate") {
            const p = join(killed.path);
            const got = disk.get(p);
            const old = model.get(p);
            const now = after.get(p);
            if (got instanceof Uint8Array && old instanceof Uint8Array && now instanceof Uint8Array) {
              for (let i = 0; i < got.length; i++) {
                const ok = got[i] === 0 || (i < old.length && got[i] === old[i]) || (i < now.length && got[i] === now[i]);
                if (!ok) expect.fail(`${p} byte ${i} is ${got[i]}, neither ${old[i]} (before) nor ${now[i]} (after) nor 0; ${where}`);
              }
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});
