// The MINIX v3 layout's encoders and decoders round-trip, and nothing that comes off a
// damaged disk makes the decoders, mount, the file operations or fsck throw anything but an
// MkError (or hang): random bytes flipped in the superblock, bitmaps, inode table, a
// directory block and an indirect block.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MkError } from "#abi";
import { MemoryBlockDevice } from "../../services/fs/mfs/src/block-device.ts";
import {
  INODE_SIZE,
  START_BLOCK,
  decodeDirent,
  decodeInode,
  decodeSuper,
  encodeDirent,
  encodeInode,
  encodeSuper,
  inodeBlocksFor,
  type BlockSize,
  type Inode,
  type SuperBlock,
} from "../../services/fs/mfs/src/disk-format.ts";
import { fsck, type FsckReport } from "../../services/fs/mfs/src/fsck.ts";
import { MinixFs } from "../../services/fs/mfs/src/minixfs.ts";
import { mkfs } from "../../services/fs/mfs/src/mkfs.ts";

const clock = { now: (): number => 1_700_000_000_000 };

async function onlyMkError<T>(p: Promise<T>): Promise<T | MkError> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof MkError) return e;
    throw e;
  }
}

describe("minix format", () => {
  it("minix - a superblock with a consistent layout round-trips through encode and decode", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<BlockSize>(1024, 2048, 4096),
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 1, max: 4_000_000 }),
        fc.nat(1),
        (blockSize, ninodes, extra, flags) => {
          const bits = blockSize * 8;
          const imapBlocks = Math.ceil((ninodes + 1) / bits);
          const zmapBlocks = Math.ceil((extra + 1) / bits);
          const firstDataZone = START_BLOCK + imapBlocks + zmapBlocks + inodeBlocksFor(ninodes, blockSize);
          fc.pre(firstDataZone <= 0xffff);
          const sb: SuperBlock = {
            ninodes,
            imapBlocks,
            zmapBlocks,
            firstDataZone,
            logZoneSize: 0,
            flags,
            maxSize: 0x7fffffff,
            zones: firstDataZone + extra,
            blockSize,
            diskVersion: 0,
          };
          expect(decodeSuper(encodeSuper(sb), (firstDataZone + extra) * blockSize)).toEqual(sb);
        },
      ),
    );
  });

  it("minix - the superblock decoder names what is wrong with EUCLEAN", () => {
    const sb: SuperBlock = {
      ninodes: 16,
      imapBlocks: 1,
      zmapBlocks: 1,
      firstDataZone: 5,
      logZoneSize: 0,
      flags: 0,
      maxSize: 0x7fffffff,
      zones: 64,
      blockSize: 1024,
      diskVersion: 0,
    };
    const dev = 64 * 1024;
    const bad = (change: Partial<SuperBlock>, deviceBytes = dev): string => {
      try {
        decodeSuper(encodeSuper({ ...sb, ...change }), deviceBytes);
      } catch (e) {
        expect(e).toBeInstanceOf(MkError);
        return (e as MkError).errno;
      }
      return "OK";
    };
    expect(bad({})).toBe("OK");
    expect(bad({}, 32 * 1024)).toBe("EUCLEAN");
    expect(bad({ blockSize: 512 as BlockSize })).toBe("EUCLEAN");
    expect(bad({ logZoneSize: 1 })).toBe("EUCLEAN");
    expect(bad({ firstDataZone: 6 })).toBe("EUCLEAN");
    expect(bad({ imapBlocks: 0 })).toBe("EUCLEAN");
    expect(bad({ ninodes: 0 })).toBe("EUCLEAN");
    expect(bad({ flags: 0x100 })).toBe("EUCLEAN");
    expect(bad({ zones: 5 })).toBe("EUCLEAN");
    const wrongMagic = encodeSuper(sb);
    wrongMagic[24] = 0x7f;
    expect(() => decodeSuper(wrongMagic, dev)).toThrow(MkError);
  });

  it("minix - inodes and directory entries round-trip; a 60-byte name has no NUL", () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(
        fc.record({
          mode: u16,
          nlinks: u16,
          uid: u16,
          gid: u16,
          size: u32,
          atime: u32,
          mtime: u32,
          ctime: u32,
          zone: fc.array(u32, { minLength: 10, maxLength: 10 }),
        }),
        fc.nat(15),
        (inode: Inode, slot) => {
          const block = new Uint8Array(1024);
          encodeInode(inode, block, slot * INODE_SIZE);
          expect(decodeInode(block, slot * INODE_SIZE)).toEqual(inode);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 60 }).map((a) => a.map((b) => (b === 0 || b === 0x2f ? 0x41 : b))),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.nat(15),
        (name, ino, slot) => {
          const block = new Uint8Array(1024);
          encodeDirent(block, slot * 64, ino, name);
          const e = decodeDirent(block, slot * 64);
          expect(e.ino).toBe(ino);
          expect(e.name).toEqual(name);
        },
      ),
    );
    const block = new Uint8Array(64);
    encodeDirent(block, 0, 7, new Uint8Array(60).fill(0x61));
    expect(block.subarray(4).every((b) => b === 0x61)).toBe(true);
    expect(decodeDirent(block, 0).name.length).toBe(60);
  });

  it("minix - the decoders take any bytes and answer with a value or EUCLEAN", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 1100 }),
        fc.nat(2_000_000_000),
        fc.integer({ min: -10, max: 1100 }),
        (bytes, deviceBytes, offset) => {
          for (const f of [() => decodeSuper(bytes, deviceBytes), () => decodeInode(bytes, offset), () => decodeDirent(bytes, offset)]) {
            try {
              f();
            } catch (e) {
              expect(e).toBeInstanceOf(MkError);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("minix on damaged disks", () => {
  /** A small disk with directories, small files and one file through the single indirect block. */
  async function baseImage(): Promise<{ bytes: Uint8Array; sb: SuperBlock; rootZone: number; indirect: number }> {
    const dev = new MemoryBlockDevice(4096);
    const sb = await mkfs(dev, { now: clock.now() });
    const fs = await MinixFs.mount(dev, { clock });
    const d = await fs.mkdir(1, "dir", 0o755);
    for (let i = 0; i < 20; i++) {
      const f = await fs.create(i % 2 === 0 ? 1 : d.ino, `file-${i}`, 0o644);
      await fs.write(f.ino, 0, new Uint8Array(500 * i).fill(i));
    }
    const big = await fs.create(d.ino, "big", 0o644);
    await fs.write(big.ino, 0, new Uint8Array(40 * 1024).fill(3));
    await fs.mkdir(d.ino, "sub", 0o700);
    await fs.unmount();
    const table = (START_BLOCK + sb.imapBlocks + sb.zmapBlocks) * 1024;
    const rootZone = decodeInode(dev.bytes, table).zone[0];
    const indirect = decodeInode(dev.bytes, table + (big.ino - 1) * INODE_SIZE).zone[7];
    return { bytes: dev.bytes.slice(), sb: { ...sb }, rootZone, indirect };
  }

  it("minix - a directory whose size byte is flipped to gigabytes is EUCLEAN at once, not a walk over its holes", async () => {
    const base = await baseImage();
    const table = (START_BLOCK + base.sb.imapBlocks + base.sb.zmapBlocks) * 1024;
    const copy = () => {
      const dev = new MemoryBlockDevice(4096);
      dev.bytes.set(base.bytes);
      return dev;
    };
    const root = copy();
    root.bytes[table + 11] = 223; // the root inode's size, its high byte: 3.7 GB
    const damaged = await MinixFs.mount(root, { clock });
    await expect(damaged.readdir(1, 0, 100)).rejects.toMatchObject({
      errno: "EUCLEAN",
      detail: { arg: "size", got: expect.any(Number), limit: expect.any(Number) },
    });
    await expect(damaged.lookup(1, "dir")).rejects.toMatchObject({ errno: "EUCLEAN" });
    await expect(damaged.create(1, "new", 0o644)).rejects.toMatchObject({ errno: "EUCLEAN" });
    const probe = await MinixFs.mount(copy(), { clock });
    const dirIno = (await probe.lookup(1, "dir")).ino;
    const sub = copy();
    sub.bytes[table + (dirIno - 1) * INODE_SIZE + 11] = 200;
    const fs = await MinixFs.mount(sub, { clock });
    await expect(fs.lookup(dirIno, "big")).rejects.toMatchObject({ errno: "EUCLEAN" });
    await expect(fs.readdir(dirIno, 0, 100)).rejects.toMatchObject({ errno: "EUCLEAN" });
    expect((await fs.readdir(1, 0, 100)).entries.map((e) => e.name)).toContain("dir"); // the rest of the disk serves on
  });

  it("minix - mount, the operations and fsck on a disk with random bytes flipped throw only MkError, and a repair leaves fsck clean", async () => {
    const base = await baseImage();
    const table = START_BLOCK + base.sb.imapBlocks + base.sb.zmapBlocks;
    const regions = [
      { start: 1024, length: 32 },
      { start: START_BLOCK * 1024, length: 1024 * (base.sb.imapBlocks + base.sb.zmapBlocks) },
      { start: table * 1024, length: 64 * 40 },
      { start: base.rootZone * 1024, length: 1024 },
      { start: base.indirect * 1024, length: 256 },
    ];
    const flip = fc.record({ region: fc.nat(regions.length - 1), at: fc.nat(100_000), value: fc.integer({ min: 0, max: 255 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(flip, { minLength: 1, maxLength: 8 }), async (flips) => {
        const dev = new MemoryBlockDevice(4096);
        dev.bytes.set(base.bytes);
        for (const f of flips) {
          const r = regions[f.region];
          dev.bytes[r.start + (f.at % r.length)] = f.value;
        }
        const fs = await onlyMkError(MinixFs.mount(dev, { clock }));
        if (fs instanceof MinixFs) {
          const listing = await onlyMkError(fs.readdir(1, 0, 100));
          if (!(listing instanceof MkError)) {
            for (const e of listing.entries) {
              await onlyMkError(fs.stat(e.ino));
              await onlyMkError(fs.read(e.ino, 0, 50_000));
              await onlyMkError(fs.readdir(e.ino, 0, 100));
            }
          }
          const dir = await onlyMkError(fs.lookup(1, "dir"));
          if (!(dir instanceof MkError)) await onlyMkError(fs.lookup(dir.ino, "big"));
          const f = await onlyMkError(fs.create(1, "new", 0o644));
          if (!(f instanceof MkError)) await onlyMkError(fs.write(f.ino, 0, new Uint8Array(3000)));
          await onlyMkError(fs.unlink(1, "file-2"));
          if (!(dir instanceof MkError)) {
            const big = await onlyMkError(fs.lookup(dir.ino, "big"));
            if (!(big instanceof MkError)) await onlyMkError(fs.truncate(big.ino, 1000));
            await onlyMkError(fs.rename(dir.ino, "sub", 1, "sub-moved"));
            await onlyMkError(fs.rmdir(1, "sub-moved"));
            await onlyMkError(fs.rename(1, "file-4", dir.ino, "file-5"));
          }
          await onlyMkError(fs.unmount());
        }
        const check = await onlyMkError(fsck(dev, { repair: false }));
        const repair = await onlyMkError(fsck(dev, { repair: true }));
        // What fsck cannot repair: the superblock, or a root that is no directory.
        const hopeless = (r: FsckReport): boolean =>
          r.problems.some((p) => p.kind === "superblock" || p.kind === "root" || (p.kind === "bad-dir" && p.ino === 1));
        if (!(check instanceof MkError) && !(repair instanceof MkError) && !hopeless(repair)) {
          const after = await fsck(dev, { repair: false });
          expect(after.problems).toEqual([]);
        }
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});
