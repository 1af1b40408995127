// A mounted MINIX v3 file system: the operations the mfs server offers vfs, by inode
// number (MINIX's fs_* request handlers without the message layer). Operations are called
// one at a time (the server serializes requests), so nothing here locks. Each operation
// checks everything that could make it fail (names, space, link counts) before it changes
// anything, so an error leaves the disk as it was.
import { MkError, type FileStat } from "#abi";
import { Bitmap } from "./bitmap.ts";
import type { BlockDevice } from "./block-device.ts";
import { BufferCache } from "./buffer-cache.ts";
import {
  DIRENT_SIZE,
  DOT,
  DOTDOT,
  FLAG_CLEAN,
  NAME_MAX,
  ROOT_INO,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  SUPER_OFFSET,
  SUPER_SIZE,
  decodeSuper,
  emptyInode,
  encodeName,
  encodeSuper,
  isDir,
  isKnownType,
  layoutOf,
  maxFileSize,
  type Inode,
  type SuperBlock,
} from "./disk-format.ts";
import { findEntry, isEmptyDir, putEntry, setEntryIno, walkDir, zonesForSlot } from "./directory.ts";
import { bmap, bmapAlloc, countZones, freeFrom, readInode, writeInode, zonesNeeded, type Volume } from "./inode.ts";
import { ReadAhead } from "./read-ahead.ts";
import { renameEntry } from "./rename.ts";

/** What stat answers, as the FS protocol carries it (times in seconds; blocks: 512-byte units, indirect included). */
export type InodeStat = Omit<FileStat, "dev">;

export interface DirEntry {
  name: string;
  ino: number;
  type: "file" | "dir" | "other";
}

export interface FsStats {
  blockSize: number;
  blocks: number;
  freeBlocks: number;
  inodes: number;
  freeInodes: number;
  nameMax: 60;
  io: { reads: number; writes: number; flushes: number; hits: number; misses: number };
}

export interface MountOptions {
  clock: { now(): number };
  /** Blocks the buffer cache holds (default 1024). */
  cacheBlocks?: number;
}

const SECTOR = 512;

/** Reads and checks the superblock of a device (EUCLEAN if it is not a sound MINIX v3 one). */
export async function readSuper(dev: BlockDevice): Promise<SuperBlock> {
  if (dev.sectors < (SUPER_OFFSET + SUPER_SIZE) / SECTOR)
    throw new MkError("EUCLEAN", `superblock: a device of ${dev.sectors} sectors has none`);
  return decodeSuper(await dev.read(SUPER_OFFSET / SECTOR, SUPER_SIZE / SECTOR), dev.sectors * SECTOR);
}

export async function writeSuper(dev: BlockDevice, sb: SuperBlock): Promise<void> {
  await dev.write(SUPER_OFFSET / SECTOR, encodeSuper(sb));
  await dev.flush();
}

/** Opens the bitmaps and cache of a volume whose superblock has been checked. */
export async function openVolume(dev: BlockDevice, sb: SuperBlock, cacheBlocks: number): Promise<Volume> {
  const layout = layoutOf(sb);
  const cache = new BufferCache(dev, sb.blockSize, cacheBlocks);
  const imap = await Bitmap.load(cache, layout.imapStart, sb.ninodes, "inode map");
  const zmap = await Bitmap.load(cache, layout.zmapStart, sb.zones - sb.firstDataZone, "zone map");
  return { sb, layout, cache, imap, zmap };
}

export class MinixFs {
  readonly root = ROOT_INO;
  /** The CLEAN flag was set when mounted: the last user unmounted it. */
  readonly wasClean: boolean;
  readonly vol: Volume;
  private readonly dev: BlockDevice;
  private readonly clock: { now(): number };
  private readonly readAhead: ReadAhead;
  /** Open counts (MINIX's in-core i_count): an unlinked inode lives until its last release. */
  private readonly held = new Map<number, number>();

  private constructor(dev: BlockDevice, vol: Volume, clock: { now(): number }, wasClean: boolean) {
    this.dev = dev;
    this.vol = vol;
    this.clock = clock;
    this.wasClean = wasClean;
    this.readAhead = new ReadAhead(vol.cache.capacity / 4);
  }

  /**
   * Mounts without checking beyond the superblock and the root (the service decides
   * whether to run fsck first). The superblock is marked not-clean on disk here, at
   * mount, before any change, and marked clean again by unmount().
   */
  static async mount(dev: BlockDevice, o: MountOptions): Promise<MinixFs> {
    const sb = await readSuper(dev);
    const vol = await openVolume(dev, sb, o.cacheBlocks ?? 1024);
    const fs = new MinixFs(dev, vol, o.clock, (sb.flags & FLAG_CLEAN) !== 0);
    const root = await fs.inodeFor(ROOT_INO, "EUCLEAN");
    if (!isDir(root.mode)) throw new MkError("EUCLEAN", `inode 1 (the root) has mode 0o${root.mode.toString(8)}, not a directory`);
    sb.flags &= ~FLAG_CLEAN;
    await writeSuper(dev, sb);
    return fs;
  }

  /** The clock in seconds, as inode times are kept. */
  now(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** An inode in use; `errno` when it is not (ESTALE for a caller's handle, EUCLEAN for a link on disk). */
  async inodeFor(ino: number, errno: "ESTALE" | "EUCLEAN" = "ESTALE"): Promise<Inode> {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.vol.sb.ninodes)
      throw new MkError(errno, `inode ${ino} is out of range 1..${this.vol.sb.ninodes}`);
    if (!(await this.vol.imap.isSet(ino))) throw new MkError(errno, `inode ${ino} is free`);
    const inode = await readInode(this.vol, ino);
    if (!isKnownType(inode.mode)) throw new MkError("EUCLEAN", `inode ${ino} is in use with mode 0o${inode.mode.toString(8)}`);
    return inode;
  }

  async dirFor(ino: number): Promise<Inode> {
    const inode = await this.inodeFor(ino);
    if (!isDir(inode.mode)) throw new MkError("ENOTDIR", `inode ${ino} is not a directory`);
    return inode;
  }

  private async statOf(ino: number, inode: Inode): Promise<InodeStat> {
    const zones = await countZones(this.vol, ino, inode);
    return {
      ino,
      mode: inode.mode,
      nlinks: inode.nlinks,
      uid: inode.uid,
      gid: inode.gid,
      size: inode.size,
      atime: inode.atime,
      mtime: inode.mtime,
      ctime: inode.ctime,
      blocks: (zones * this.vol.sb.blockSize) / SECTOR,
    };
  }

  async stat(ino: number): Promise<InodeStat> {
    return this.statOf(ino, await this.inodeFor(ino));
  }

  /** The entry `name` in `dir`: its slot, and its inode checked as a link found on disk. */
  async entry(dir: number, name: string): Promise<{ d: Inode; slot: number; ino: number; inode: Inode; free: number }> {
    const bytes = encodeName(name);
    const d = await this.dirFor(dir);
    const { found, free } = await findEntry(this.vol, dir, d, bytes);
    if (found === undefined) throw new MkError("ENOENT", `no entry in directory ${dir}`);
    const inode = await this.inodeFor(found.ino, "EUCLEAN").catch((e: unknown) => {
      throw e instanceof MkError ? new MkError("EUCLEAN", `directory ${dir} slot ${found?.slot}: ${e.message}`) : e;
    });
    return { d, slot: found.slot, ino: found.ino, inode, free };
  }

  async lookup(dir: number, name: string): Promise<InodeStat> {
    const e = await this.entry(dir, name);
    return this.statOf(e.ino, e.inode);
  }

  /** Checks that `name` is free in `dir` and that a new inode (and `extraZones`) fit; returns the slot. */
  private async prepareNew(dir: number, name: string, extraZones: number): Promise<{ d: Inode; bytes: Uint8Array; slot: number }> {
    const bytes = encodeName(name);
    const d = await this.dirFor(dir);
    const { found, free } = await findEntry(this.vol, dir, d, bytes);
    if (found !== undefined) throw new MkError("EEXIST", `the name exists in directory ${dir}`);
    if (this.vol.imap.free < 1) throw new MkError("ENOSPC", "no free inode");
    const need = (await zonesForSlot(this.vol, dir, d, free)) + extraZones;
    if (this.vol.zmap.free < need) throw new MkError("ENOSPC", `${need} zones needed, ${this.vol.zmap.free} free`);
    return { d, bytes, slot: free };
  }

  private fresh(mode: number, nlinks: number): Inode {
    const inode = emptyInode();
    inode.mode = mode;
    inode.nlinks = nlinks;
    inode.atime = inode.mtime = inode.ctime = this.now();
    return inode;
  }

  async create(dir: number, name: string, mode: number): Promise<InodeStat> {
    const { d, bytes, slot } = await this.prepareNew(dir, name, 0);
    const ino = await this.vol.imap.alloc();
    const inode = this.fresh(S_IFREG | (mode & 0o7777), 1);
    await writeInode(this.vol, ino, inode);
    await this.link(dir, d, slot, ino, bytes, 0);
    return this.statOf(ino, inode);
  }

  async mkdir(dir: number, name: string, mode: number): Promise<InodeStat> {
    const { d, bytes, slot } = await this.prepareNew(dir, name, 1);
    if (d.nlinks >= 0xffff) throw new MkError("EMLINK", `directory ${dir} has ${d.nlinks} links`);
    const ino = await this.vol.imap.alloc();
    const inode = this.fresh(S_IFDIR | (mode & 0o7777), 2);
    await putEntry(this.vol, ino, inode, 0, ino, DOT);
    await putEntry(this.vol, ino, inode, 1, dir, DOTDOT);
    await writeInode(this.vol, ino, inode);
    await this.link(dir, d, slot, ino, bytes, 1);
    return this.statOf(ino, inode);
  }

  /** Adds the entry to `d` and writes `d` back with `linkDelta` more links. */
  private async link(dir: number, d: Inode, slot: number, ino: number, bytes: Uint8Array, linkDelta: number): Promise<void> {
    await putEntry(this.vol, dir, d, slot, ino, bytes);
    d.nlinks += linkDelta;
    d.mtime = d.ctime = this.now();
    await writeInode(this.vol, dir, d);
  }

  async unlink(dir: number, name: string): Promise<void> {
    const e = await this.entry(dir, name);
    if (isDir(e.inode.mode)) throw new MkError("EISDIR", `inode ${e.ino} is a directory`);
    await setEntryIno(this.vol, dir, e.d, e.slot, 0);
    e.d.mtime = e.d.ctime = this.now();
    await writeInode(this.vol, dir, e.d);
    await this.dropLink(e.ino, e.inode);
  }

  /** One link fewer; frees the inode at zero links unless it is held open. */
  async dropLink(ino: number, inode: Inode, links = 1): Promise<void> {
    inode.nlinks = Math.max(0, inode.nlinks - links);
    inode.ctime = this.now();
    await writeInode(this.vol, ino, inode);
    if (inode.nlinks === 0 && !this.held.has(ino)) await this.destroy(ino, inode);
  }

  private async destroy(ino: number, inode: Inode): Promise<void> {
    this.readAhead.forget(ino);
    await freeFrom(this.vol, ino, inode, 0);
    await writeInode(this.vol, ino, emptyInode());
    await this.vol.imap.release(ino);
  }

  async rmdir(dir: number, name: string): Promise<void> {
    if (name === "." || name === "..") throw new MkError("EINVAL", "rmdir of . or ..");
    const e = await this.entry(dir, name);
    if (!isDir(e.inode.mode)) throw new MkError("ENOTDIR", `inode ${e.ino} is not a directory`);
    if (e.ino === ROOT_INO) throw new MkError("EBUSY", "the root cannot be removed");
    if (!(await isEmptyDir(this.vol, e.ino, e.inode))) throw new MkError("ENOTEMPTY", `directory ${e.ino} has entries`);
    await setEntryIno(this.vol, dir, e.d, e.slot, 0);
    e.d.nlinks = Math.max(1, e.d.nlinks - 1);
    e.d.mtime = e.d.ctime = this.now();
    await writeInode(this.vol, dir, e.d);
    await this.dropLink(e.ino, e.inode, e.inode.nlinks);
  }

  async rename(srcDir: number, srcName: string, dstDir: number, dstName: string): Promise<void> {
    await renameEntry(this, srcDir, srcName, dstDir, dstName);
  }

  async read(ino: number, offset: number, length: number): Promise<Uint8Array> {
    const inode = await this.inodeFor(ino);
    if (isDir(inode.mode)) throw new MkError("EISDIR", `inode ${ino} is a directory`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
      throw new MkError("EINVAL", `read of ${length} at ${offset}`);
    const end = Math.min(inode.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const bs = this.vol.sb.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    // Never past the file's last block: its zones are checked to lie on the file system.
    const ahead = Math.min(Math.floor((inode.size - 1) / bs), this.readAhead.plan(ino, first, last));
    const zones: number[] = [];
    for (let n = first; n <= last; n++) zones.push(await bmap(this.vol, ino, inode, n));
    for (let n = last + 1; n <= ahead; n++) {
      // A damaged pointer past what was asked ends the read-ahead; the read itself stands.
      const zone = await bmap(this.vol, ino, inode, n).catch(() => undefined);
      if (zone === undefined) break;
      zones.push(zone);
    }
    // What was asked and what lies ahead go in the same requests; should that fail (a bad
    // sector ahead), what was asked is fetched alone: read-ahead never fails a read.
    await this.fetchRuns(zones).catch(() => this.fetchRuns(zones.slice(0, last - first + 1)));
    const out = new Uint8Array(end - offset);
    for (let pos = offset; pos < end; ) {
      const n = Math.floor(pos / bs);
      const take = Math.min(end, (n + 1) * bs) - pos;
      const zone = zones[n - first];
      if (zone !== 0) out.set((await this.vol.cache.get(zone)).subarray(pos % bs, (pos % bs) + take), pos - offset);
      pos += take;
    }
    return out;
  }

  /** The zones not cached, each run of adjacent ones in one device read (MINIX's rw_scattered). */
  private async fetchRuns(zones: readonly number[]): Promise<void> {
    const cache = this.vol.cache;
    for (let i = 0; i < zones.length; ) {
      let j = i + 1;
      if (zones[i] !== 0 && !cache.has(zones[i])) {
        while (j < zones.length && zones[j] === zones[j - 1] + 1 && !cache.has(zones[j])) j++;
        await cache.readRun(zones[i], j - i);
      }
      i = j;
    }
  }

  async write(ino: number, offset: number, data: Uint8Array): Promise<number> {
    const inode = await this.inodeFor(ino);
    if (isDir(inode.mode)) throw new MkError("EISDIR", `inode ${ino} is a directory`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new MkError("EINVAL", `write at ${offset}`);
    if (data.length === 0) return inode.size;
    const end = offset + data.length;
    const max = maxFileSize(this.vol.sb);
    if (end > max) throw new MkError("EFBIG", `inode ${ino}: ${end} bytes is past the largest file, ${max}`);
    const bs = this.vol.sb.blockSize;
    const need = await zonesNeeded(this.vol, ino, inode, Math.floor(offset / bs), Math.floor((end - 1) / bs));
    if (need > this.vol.zmap.free) throw new MkError("ENOSPC", `inode ${ino}: ${need} zones needed, ${this.vol.zmap.free} free`);
    if (offset > inode.size) await this.zeroTail(ino, inode, inode.size);
    for (let pos = offset; pos < end; ) {
      const n = Math.floor(pos / bs);
      const take = Math.min(end, (n + 1) * bs) - pos;
      const zone = await bmapAlloc(this.vol, ino, inode, n);
      const block = take === bs ? new Uint8Array(bs) : await this.vol.cache.get(zone);
      block.set(data.subarray(pos - offset, pos - offset + take), pos % bs);
      await this.vol.cache.put(zone, block);
      pos += take;
    }
    inode.size = Math.max(inode.size, end);
    inode.mtime = inode.ctime = this.now();
    await writeInode(this.vol, ino, inode);
    return inode.size;
  }

  /** Zeroes the last block past `from`, so what a later growth exposes reads as zeros. */
  private async zeroTail(ino: number, inode: Inode, from: number): Promise<void> {
    const bs = this.vol.sb.blockSize;
    if (from % bs === 0) return;
    const zone = await bmap(this.vol, ino, inode, Math.floor(from / bs));
    if (zone === 0) return;
    const block = await this.vol.cache.get(zone);
    block.fill(0, from % bs);
    await this.vol.cache.put(zone, block);
  }

  async truncate(ino: number, size: number): Promise<void> {
    const inode = await this.inodeFor(ino);
    if (isDir(inode.mode)) throw new MkError("EISDIR", `inode ${ino} is a directory`);
    if (!Number.isSafeInteger(size) || size < 0) throw new MkError("EINVAL", `truncate to ${size}`);
    if (size > maxFileSize(this.vol.sb)) throw new MkError("EFBIG", `inode ${ino}: ${size} bytes is past the largest file`);
    if (size < inode.size) await freeFrom(this.vol, ino, inode, Math.ceil(size / this.vol.sb.blockSize));
    await this.zeroTail(ino, inode, Math.min(size, inode.size));
    inode.size = size;
    inode.mtime = inode.ctime = this.now();
    await writeInode(this.vol, ino, inode);
  }

  async readdir(dir: number, cookie: number, max: number): Promise<{ entries: DirEntry[]; next?: number }> {
    if (!Number.isSafeInteger(cookie) || cookie < 0 || !Number.isSafeInteger(max) || max < 1)
      throw new MkError("EINVAL", `readdir at ${cookie} for ${max}`);
    const d = await this.dirFor(dir);
    const found: { ino: number; name: string; slot: number }[] = [];
    const decoder = new TextDecoder();
    const stop = await walkDir(this.vol, dir, d, cookie, (s) => {
      if (s.ino !== 0) found.push({ ino: s.ino, name: decoder.decode(s.name), slot: s.slot });
      return found.length >= max;
    });
    const entries: DirEntry[] = [];
    for (const f of found) {
      const inode = await this.inodeFor(f.ino, "EUCLEAN");
      const t = inode.mode & S_IFMT;
      entries.push({ name: f.name, ino: f.ino, type: t === S_IFDIR ? "dir" : t === S_IFREG ? "file" : "other" });
    }
    const next = stop >= 0 && stop + 1 < Math.floor(d.size / DIRENT_SIZE) ? stop + 1 : undefined;
    return next === undefined ? { entries } : { entries, next };
  }

  async setattr(ino: number, a: { mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number }): Promise<InodeStat> {
    const inode = await this.inodeFor(ino);
    const u16 = (v: number | undefined, what: string): void => {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffff)) throw new MkError("EINVAL", `${what} ${v}`);
    };
    const u32 = (v: number | undefined, what: string): void => {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new MkError("EINVAL", `${what} ${v}`);
    };
    u16(a.uid, "uid");
    u16(a.gid, "gid");
    u32(a.atime, "atime");
    u32(a.mtime, "mtime");
    if (a.mode !== undefined && (!Number.isInteger(a.mode) || a.mode < 0)) throw new MkError("EINVAL", `mode ${a.mode}`);
    if (a.mode !== undefined) inode.mode = (inode.mode & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined) inode.uid = a.uid;
    if (a.gid !== undefined) inode.gid = a.gid;
    if (a.atime !== undefined) inode.atime = a.atime;
    if (a.mtime !== undefined) inode.mtime = a.mtime;
    inode.ctime = this.now();
    await writeInode(this.vol, ino, inode);
    return this.statOf(ino, inode);
  }

  open(ino: number): void {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.vol.sb.ninodes) throw new MkError("ESTALE", `inode ${ino} is out of range`);
    this.held.set(ino, (this.held.get(ino) ?? 0) + 1);
  }

  async release(ino: number): Promise<void> {
    const count = this.held.get(ino);
    if (count === undefined) throw new MkError("EINVAL", `inode ${ino} is not open`);
    if (count > 1) {
      this.held.set(ino, count - 1);
      return;
    }
    this.held.delete(ino);
    await this.freeIfUnlinked(ino);
  }

  private async freeIfUnlinked(ino: number): Promise<void> {
    if (!(await this.vol.imap.isSet(ino))) return;
    const inode = await readInode(this.vol, ino);
    if (inode.nlinks === 0) await this.destroy(ino, inode);
  }

  async statfs(): Promise<FsStats> {
    const { sb, zmap, imap } = this.vol;
    return {
      blockSize: sb.blockSize,
      blocks: sb.zones,
      freeBlocks: zmap.free,
      inodes: sb.ninodes,
      freeInodes: imap.free,
      nameMax: NAME_MAX,
      io: { ...this.dev.io, hits: this.vol.cache.hits, misses: this.vol.cache.misses },
    };
  }

  async sync(): Promise<void> {
    await this.vol.cache.sync();
  }

  /** Frees what was only held open, writes everything back, then sets the CLEAN flag. */
  async unmount(): Promise<void> {
    const held = [...this.held.keys()];
    this.held.clear();
    for (const ino of held) await this.freeIfUnlinked(ino);
    await this.vol.cache.sync();
    await writeSuper(this.dev, { ...this.vol.sb, flags: this.vol.sb.flags | FLAG_CLEAN });
  }
}
