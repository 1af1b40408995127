// Our MINIX v3 code against util-linux's real tools, both ways, on image files in the temp
// directory: a disk made by mkfs.minix -3 takes our files and passes fsck.minix; a disk we
// make passes fsck.minix; a damaged disk that fsck.minix rejects passes it after our repair.
// util-linux 2.38's mkfs.minix has no block-size option and its fsck.minix assumes 1 KiB
// blocks, so the interop images are all 1 KiB-block ones (4 KiB disks are tested in memory).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MkError } from "#abi";
import { FileBlockDevice, MemoryBlockDevice } from "../../services/fs/mfs/src/block-device.ts";
import { INODE_SIZE, START_BLOCK, decodeInode } from "../../services/fs/mfs/src/disk-format.ts";
import { fsck } from "../../services/fs/mfs/src/fsck.ts";
import { MinixFs } from "../../services/fs/mfs/src/minixfs.ts";
import { mkfs } from "../../services/fs/mfs/src/mkfs.ts";
import { KilledDevice } from "../helpers/killed-device.ts";

const MKFS = "/usr/sbin/mkfs.minix";
const FSCK = "/usr/sbin/fsck.minix";
const clock = { now: (): number => 1_700_000_000_000 };
const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "mkos-minix-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** fsck.minix -f (never -r: that one wants a terminal); exit 0 clean, 4 errors left, 3 changed. */
function fsckMinix(image: string, list = false): { status: number | null; paths: string[]; out: string } {
  const r = spawnSync(FSCK, [list ? "-fl" : "-f", image], { encoding: "utf8", timeout: 30_000 });
  const paths = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("/"))
    .map((l) => l.replace(/:$/, ""));
  return { status: r.status, paths: paths.sort(), out: r.stdout + r.stderr };
}

function image(name: string, bytes: number): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, bytes);
  return path;
}

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + (i >> 9)) & 0xff;
  return out;
}

/** Puts the same small tree on any mounted disk; returns the paths fsck.minix -l should print. */
async function populate(fs: MinixFs): Promise<string[]> {
  const docs = await fs.mkdir(1, "docs", 0o755);
  const deep = await fs.mkdir(docs.ino, "deep", 0o700);
  const readme = await fs.create(1, "README", 0o644);
  await fs.write(readme.ino, 0, new TextEncoder().encode("made by mkos\n"));
  const big = await fs.create(deep.ino, "big.bin", 0o644);
  await fs.write(big.ino, 0, pattern(3 * MiB));
  for (let i = 0; i < 40; i++) await fs.create(docs.ino, `note-${i}`, 0o600);
  await fs.rename(docs.ino, "note-0", 1, "moved");
  await fs.unlink(docs.ino, "note-1");
  const long = "n".repeat(60);
  await fs.create(1, long, 0o644);
  const notes = Array.from({ length: 38 }, (_, i) => `/docs/note-${i + 2}`);
  // fsck.minix -l prints at most 59 bytes of a 60-byte name: its copy keeps room for a NUL.
  return ["/README", "/docs", "/docs/deep", "/docs/deep/big.bin", "/moved", `/${long.slice(0, 59)}`, ...notes].sort();
}

/** Fills a mounted file system, unmounts it, and has fsck.minix pass it and list the same paths. */
async function fillAndCheck(fs: MinixFs, dev: FileBlockDevice, img: string): Promise<void> {
  const want = await populate(fs);
  await fs.unmount();
  await dev.close();
  const checked = fsckMinix(img);
  expect(checked.status, checked.out).toBe(0);
  expect(fsckMinix(img, true).paths).toEqual(want);
}

describe("minix interop with util-linux", () => {
  it("minix - a disk made by mkfs.minix -3 mounts, takes directories and a multi-MiB file, and passes fsck.minix -f", async () => {
    const img = image("theirs.img", 16 * MiB);
    const made = spawnSync(MKFS, ["-3", img], { encoding: "utf8" });
    expect(made.status).toBe(0);
    const dev = await FileBlockDevice.open(img);
    const fs = await MinixFs.mount(dev, { clock });
    // util-linux does not set MINIX 3's clean flag.
    expect(fs.wasClean).toBe(false);
    await fillAndCheck(fs, dev, img);
    // And it reads back after a fresh mount.
    const again = await FileBlockDevice.open(img, { readOnly: true });
    const ro = await MinixFs.mount(new ReadOnlyView(again), { clock });
    const deep = await ro.lookup((await ro.lookup(1, "docs")).ino, "deep");
    const big = await ro.lookup(deep.ino, "big.bin");
    expect(sha(await ro.read(big.ino, 0, big.size))).toBe(sha(pattern(3 * MiB)));
    await again.close();
  });

  it("minix - a disk made by our mkfs passes fsck.minix -f and lists our files", async () => {
    const img = image("ours.img", 8 * MiB);
    const dev = await FileBlockDevice.open(img);
    await mkfs(dev, { now: clock.now() });
    expect(fsckMinix(img).status).toBe(0);
    const fs = await MinixFs.mount(dev, { clock });
    await fillAndCheck(fs, dev, img);
  });

  it("minix - a damaged disk that fsck.minix rejects is reported and repaired by our fsck, then fsck.minix exits 0", async () => {
    const img = image("damaged.img", 8 * MiB);
    const dev = await FileBlockDevice.open(img);
    const sb = await mkfs(dev, { now: clock.now() });
    const fs = await MinixFs.mount(dev, { clock });
    const want = await populate(fs);
    const orphan = await fs.create(1, "orphan", 0o644);
    await fs.write(orphan.ino, 0, pattern(5000));
    await fs.unmount();
    await dev.close();

    // Clear the root directory's zone bit, give README a wrong link count, and drop the
    // orphan's entry so its inode and zones are in use but unreachable.
    const mem = new MemoryBlockDevice((8 * MiB) / 512);
    const { readFileSync } = await import("node:fs");
    mem.bytes.set(readFileSync(img));
    const table = (START_BLOCK + sb.imapBlocks + sb.zmapBlocks) * 1024;
    const rootZone = decodeInode(mem.bytes, table).zone[0];
    mem.bytes[(START_BLOCK + sb.imapBlocks) * 1024] &= ~2;
    const mounted = await MinixFs.mount(mem, { clock });
    const readme = (await mounted.lookup(1, "README")).ino;
    mem.bytes[table + (readme - 1) * INODE_SIZE + 2] = 5;
    const dirBlock = mem.bytes.subarray(rootZone * 1024, rootZone * 1024 + 1024);
    for (let off = 0; off < 1024; off += 64) {
      if (new DataView(dirBlock.buffer, dirBlock.byteOffset + off, 4).getUint32(0, true) === orphan.ino) dirBlock.fill(0, off, off + 4);
    }
    writeFileSync(img, mem.bytes);
    expect(fsckMinix(img).status).not.toBe(0);

    const file = await FileBlockDevice.open(img);
    const found = await fsck(file, { repair: false });
    expect(found.clean).toBe(false);
    const kinds = found.problems.map((p) => p.kind);
    expect(kinds).toEqual(expect.arrayContaining(["zmap", "nlinks", "orphan"]));
    expect(found.problems.find((p) => p.kind === "nlinks")?.ino).toBe(readme);
    expect(found.problems.find((p) => p.kind === "orphan")?.ino).toBe(orphan.ino);
    const fixed = await fsck(file, { repair: true });
    expect(fixed.repaired).toBe(fixed.problems.length);
    expect((await fsck(file, { repair: false })).clean).toBe(true);
    await file.close();
    const checked = fsckMinix(img);
    expect(checked.status, checked.out).toBe(0);
    expect(fsckMinix(img, true).paths).toEqual(want);
  });

  it("minix - after our repair of randomly damaged disks fsck.minix -f exits 0", async () => {
    const base = new MemoryBlockDevice((2 * MiB) / 512);
    const sb = await mkfs(base, { now: clock.now() });
    const fs = await MinixFs.mount(base, { clock });
    await populateSmall(fs);
    await fs.unmount();
    const table = START_BLOCK + sb.imapBlocks + sb.zmapBlocks;
    const rootZone = decodeInode(base.bytes, table * 1024).zone[0];
    const regions = [
      { start: START_BLOCK * 1024, length: 2048 },
      { start: table * 1024, length: 64 * 30 },
      { start: rootZone * 1024, length: 1024 },
    ];
    const img = join(dir, "fuzz.img");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ region: fc.nat(2), at: fc.nat(100_000), value: fc.nat(255) }), { minLength: 1, maxLength: 6 }),
        async (flips) => {
          const dev = new MemoryBlockDevice(base.sectors);
          dev.bytes.set(base.bytes);
          for (const f of flips) dev.bytes[regions[f.region].start + (f.at % regions[f.region].length)] = f.value;
          const report = await fsck(dev, { repair: true });
          if (report.problems.some((p) => p.kind === "superblock" || p.kind === "root" || (p.kind === "bad-dir" && p.ino === 1))) return;
          writeFileSync(img, dev.bytes);
          const checked = fsckMinix(img);
          expect(checked.status, `${checked.out}\n${JSON.stringify(report.problems)}`).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
  it("minix - a disk whose writer was killed at any write, torn part way, passes fsck.minix -f after our repair", async () => {
    const img = join(dir, "killed.img");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ k: fc.constantFrom("write", "truncate", "unlink", "mkdir"), name: fc.nat(5), size: fc.nat(300_000) }), {
          minLength: 5,
          maxLength: 25,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(300),
        async (ops, at, torn) => {
          const run = async (dev: KilledDevice, budget: number): Promise<void> => {
            const fs = await MinixFs.mount(dev, { clock, cacheBlocks: 8 });
            dev.writes = 0;
            dev.budget = budget;
            try {
              for (const op of ops) {
                const name = `f${op.name}`;
                const found = await fs.lookup(1, name).catch(() => undefined);
                const isDir = found !== undefined && (found.mode & 0o170000) === 0o040000;
                if (op.k === "mkdir" && !found) await fs.mkdir(1, name, 0o755);
                else if (op.k === "unlink" && found) await (isDir ? fs.rmdir(1, name) : fs.unlink(1, name));
                else if (op.k === "truncate" && found && !isDir) await fs.truncate(found.ino, op.size >> 2);
                else if (op.k === "write" && !isDir) {
                  const ino = found?.ino ?? (await fs.create(1, name, 0o644)).ino;
                  await fs.write(ino, op.size >> 1, pattern(op.size >> 1));
                }
                await fs.sync();
              }
            } catch (e) {
              if (!(e instanceof MkError && e.message === "killed")) throw e;
            }
          };
          const dry = new KilledDevice((4 * MiB) / 512);
          await mkfs(dry, { now: clock.now() });
          await run(dry, Number.POSITIVE_INFINITY);
          const dev = new KilledDevice((4 * MiB) / 512);
          await mkfs(dev, { now: clock.now() });
          const budget = Math.floor(at * dry.writes);
          dev.torn = torn;
          await run(dev, budget);
          dev.budget = Number.POSITIVE_INFINITY;
          await fsck(dev, { repair: true });
          writeFileSync(img, dev.bytes);
          const r = fsckMinix(img);
          expect(r.status, `killed at write ${budget + 1} of ${dry.writes} (${torn} sectors landed): ${r.out}`).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});

async function populateSmall(fs: MinixFs): Promise<void> {
  const d = await fs.mkdir(1, "d", 0o755);
  await fs.mkdir(d.ino, "e", 0o755);
  for (let i = 0; i < 12; i++) {
    const f = await fs.create(i % 3 === 0 ? d.ino : 1, `f${i}`, 0o644);
    await fs.write(f.ino, 0, pattern(700 * i));
  }
}

/** A device that refuses writes, so a read-only look at an image cannot change it. */
class ReadOnlyView {
  readonly sectors: number;
  readonly io = { reads: 0, writes: 0, flushes: 0 };
  private readonly dev: FileBlockDevice;
  constructor(dev: FileBlockDevice) {
    this.dev = dev;
    this.sectors = dev.sectors;
  }
  read(lba: number, count: number): Promise<Uint8Array> {
    return this.dev.read(lba, count);
  }
  async write(): Promise<void> {}
  async writev(): Promise<void> {}
  async flush(): Promise<void> {}
}
