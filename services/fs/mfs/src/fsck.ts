// The file-system checker (MINIX's fsck.mfs, util-linux's fsck.minix): walks the tree from
// the root, claims every zone once, counts links, and compares what is reachable with both
// bitmaps. With repair it makes the disk consistent the simple way: bad entries are
// dropped, bad or doubly claimed zone pointers cleared (the second claimant loses them),
// link counts set to what was counted, unreachable inodes freed, and both bitmaps rebuilt
// from what is reachable. MinixFs.mount does not call this: the service decides when.
import { MkError } from "#abi";
import type { BlockDevice } from "./block-device.ts";
import {
  DIRENT_SIZE,
  DOT,
  DOTDOT,
  FLAG_CLEAN,
  NR_DZONES,
  ROOT_INO,
  decodeDirent,
  emptyInode,
  encodeDirent,
  hasZones,
  isDir,
  isKnownType,
  sameName,
  validStoredName,
  type Inode,
} from "./disk-format.ts";
import { getPtr, readInode, setPtr, writeInode, type Volume } from "./inode.ts";
import { openVolume, readSuper, writeSuper } from "./minixfs.ts";

interface FsckProblem {
  kind: string;
  ino?: number;
  zone?: number;
  detail: string;
}

export interface FsckReport {
  /** No problem was found (with repair: before repairing). */
  clean: boolean;
  problems: FsckProblem[];
  repaired: number;
  files: number;
  directories: number;
  usedZones: number;
}

/** Past this many, problems are counted but not listed (a wiped bitmap is thousands). */
const MAX_LISTED = 500;

interface Leaf {
  index: number;
  zone: number;
}

class Checker {
  readonly problems: FsckProblem[] = [];
  found = 0;
  unrepairable = 0;
  readonly inodes: Inode[] = [];
  readonly dirty = new Set<number>();
  readonly reachable: Uint8Array;
  readonly refs: Uint32Array;
  /** Zone number minus firstdatazone: which inode claimed it (0: none). */
  readonly owner: Uint32Array;
  private readonly vol: Volume;
  private readonly repair: boolean;
  /** Zones claimed by the tree being walked, to give back if its directory is found bad. */
  private claimed: number[] = [];

  constructor(vol: Volume, repair: boolean) {
    this.vol = vol;
    this.repair = repair;
    this.reachable = new Uint8Array(vol.sb.ninodes + 1);
    this.refs = new Uint32Array(vol.sb.ninodes + 1);
    this.owner = new Uint32Array(vol.sb.zones - vol.sb.firstDataZone);
  }

  report(p: FsckProblem, repairable = true): void {
    this.found++;
    if (!repairable) this.unrepairable++;
    if (this.problems.length < MAX_LISTED) this.problems.push(p);
  }

  async load(): Promise<void> {
    this.inodes.push(emptyInode());
    for (let ino = 1; ino <= this.vol.sb.ninodes; ino++) this.inodes.push(await readInode(this.vol, ino));
  }

  /** Claims a zone pointer for `ino`; returns it, or 0 when it is bad or taken (and cleared on repair). */
  private claim(ino: number, zone: number, where: string): number {
    if (zone === 0) return 0;
    const { firstDataZone, zones } = this.vol.sb;
    if (zone < firstDataZone || zone >= zones) {
      this.report({ kind: "zone-range", ino, zone, detail: `${where}: zone ${zone} is outside ${firstDataZone}..${zones - 1}` });
      return 0;
    }
    const prev = this.owner[zone - firstDataZone];
    if (prev !== 0) {
      this.report({ kind: "zone-dup", ino, zone, detail: `${where}: zone ${zone} already belongs to inode ${prev}` });
      return 0;
    }
    this.owner[zone - firstDataZone] = ino;
    this.claimed.push(zone);
    return zone;
  }

  /** Claims the whole zone tree of `ino`, returning its data zones in order. */
  async claimTree(ino: number): Promise<Leaf[]> {
    const inode = this.inodes[ino];
    const leaves: Leaf[] = [];
    this.claimed = [];
    if (!hasZones(inode.mode)) return leaves;
    const p = this.vol.layout.perBlock;
    let base = 0;
    for (let slot = 0; slot < inode.zone.length; slot++) {
      const level = slot < NR_DZONES ? 0 : slot - NR_DZONES + 1;
      const zone = this.claim(ino, inode.zone[slot], `inode ${ino} i_zone[${slot}]`);
      if (zone !== inode.zone[slot] && this.repair) {
        inode.zone[slot] = 0;
        this.dirty.add(ino);
      }
      if (zone !== 0) await this.walkZone(ino, zone, level, base, leaves);
      base += p ** level;
    }
    return leaves;
  }

  private async walkZone(ino: number, zone: number, level: number, base: number, leaves: Leaf[]): Promise<void> {
    if (level === 0) {
      leaves.push({ index: base, zone });
      return;
    }
    const p = this.vol.layout.perBlock;
    const block = await this.vol.cache.get(zone);
    const ptrs: number[] = [];
    for (let i = 0; i < p; i++) ptrs.push(getPtr(block, i));
    let changed = false;
    for (let i = 0; i < p; i++) {
      const child = this.claim(ino, ptrs[i], `inode ${ino} indirect block ${zone} entry ${i}`);
      if (child !== ptrs[i]) {
        ptrs[i] = 0;
        changed = true;
      }
      if (child !== 0) await this.walkZone(ino, child, level - 1, base + i * p ** (level - 1), leaves);
    }
    if (changed && this.repair) {
      const again = await this.vol.cache.get(zone);
      for (let i = 0; i < p; i++) setPtr(again, i, ptrs[i]);
      await this.vol.cache.put(zone, again);
    }
  }

  private async editEntry(zone: number, offset: number, ino: number, name?: Uint8Array): Promise<void> {
    if (!this.repair) return;
    const data = await this.vol.cache.get(zone);
    if (name === undefined) new DataView(data.buffer, data.byteOffset).setUint32(offset, ino, true);
    else encodeDirent(data, offset, ino, name);
    await this.vol.cache.put(zone, data);
  }

  /** Checks the directory `dir` reached from `parent`; returns the subdirectories to visit. */
  async checkDir(dir: number, parent: number, leaves: Leaf[]): Promise<{ ino: number; leaves: Leaf[] }[]> {
    const inode = this.inodes[dir];
    const bs = this.vol.sb.blockSize;
    if (inode.size % DIRENT_SIZE !== 0) {
      this.report({ kind: "dir-size", ino: dir, detail: `directory ${dir} has size ${inode.size}, not whole entries` });
      if (this.repair) {
        inode.size -= inode.size % DIRENT_SIZE;
        this.dirty.add(dir);
      }
    }
    const subdirs: { ino: number; leaves: Leaf[] }[] = [];
    const perBlock = bs / DIRENT_SIZE;
    const slots = Math.floor(inode.size / DIRENT_SIZE);
    for (const leaf of leaves) {
      if (leaf.index * perBlock >= slots) break;
      const data = (await this.vol.cache.get(leaf.zone)).slice();
      for (let i = 0; i < perBlock && leaf.index * perBlock + i < slots; i++) {
        const slot = leaf.index * perBlock + i;
        const e = decodeDirent(data, i * DIRENT_SIZE);
        const where = `directory ${dir} slot ${slot}`;
        if (slot < 2) {
          const [want, name] = slot === 0 ? [dir, DOT] : [parent, DOTDOT];
          if (e.ino !== want || !sameName(e.name, name)) {
            this.report({
              kind: slot === 0 ? "dot" : "dotdot",
              ino: dir,
              detail: `${where} should be '${slot === 0 ? "." : ".."}' -> ${want}, is ${e.ino}`,
            });
            await this.editEntry(leaf.zone, i * DIRENT_SIZE, want, name);
          }
          this.refs[want]++;
          continue;
        }
        if (e.ino === 0) continue;
        const drop = async (kind: string, detail: string): Promise<void> => {
          this.report({ kind, ino: dir, detail: `${where}: ${detail}` });
          await this.editEntry(leaf.zone, i * DIRENT_SIZE, 0);
        };
        if (e.ino > this.vol.sb.ninodes) await drop("entry-range", `inode ${e.ino} is out of range`);
        else if (!validStoredName(e.name) || sameName(e.name, DOT) || sameName(e.name, DOTDOT)) await drop("entry-name", "a bad name");
        else if (!isKnownType(this.inodes[e.ino].mode)) await drop("entry-free", `inode ${e.ino} is not in use`);
        else if (isDir(this.inodes[e.ino].mode) && this.reachable[e.ino]) await drop("dir-link", `directory ${e.ino} is reachable twice`);
        else {
          this.refs[e.ino]++;
          if (this.reachable[e.ino]) continue;
          const sub = await this.claimTree(e.ino);
          if (isDir(this.inodes[e.ino].mode) && this.badDir(e.ino, sub)) {
            this.refs[e.ino]--;
            this.unclaim();
            await drop("bad-dir", `directory ${e.ino} has no first block or no '.' and '..'`);
            continue;
          }
          this.reachable[e.ino] = 1;
          if (isDir(this.inodes[e.ino].mode)) subdirs.push({ ino: e.ino, leaves: sub });
        }
      }
    }
    return subdirs;
  }

  private unclaim(): void {
    for (const z of this.claimed) this.owner[z - this.vol.sb.firstDataZone] = 0;
    this.claimed = [];
  }

  /** A directory without its first block or its two first entries cannot be checked. */
  badDir(ino: number, leaves: Leaf[]): boolean {
    return this.inodes[ino].size < 2 * DIRENT_SIZE || leaves.length === 0 || leaves[0].index !== 0;
  }
}

function emptyReport(problem: FsckProblem): FsckReport {
  return { clean: false, problems: [problem], repaired: 0, files: 0, directories: 0, usedZones: 0 };
}

export async function fsck(dev: BlockDevice, o: { repair: boolean }): Promise<FsckReport> {
  let sb;
  try {
    sb = await readSuper(dev);
  } catch (e) {
    if (e instanceof MkError && e.errno === "EUCLEAN") return emptyReport({ kind: "superblock", detail: e.message });
    throw e;
  }
  const vol = await openVolume(dev, sb, 4096);
  // Every map and inode block in one pass of large reads (the walk then finds them cached).
  await vol.cache.readRun(vol.layout.imapStart, vol.layout.inodeStart + vol.layout.inodeBlocks - vol.layout.imapStart);
  const c = new Checker(vol, o.repair);
  await c.load();
  if (!isDir(c.inodes[ROOT_INO].mode)) return emptyReport({ kind: "root", ino: ROOT_INO, detail: "inode 1 is not a directory" });

  c.reachable[ROOT_INO] = 1;
  const rootLeaves = await c.claimTree(ROOT_INO);
  if (c.badDir(ROOT_INO, rootLeaves))
    return emptyReport({ kind: "bad-dir", ino: ROOT_INO, detail: "the root directory has no first block" });
  // Depth first with an explicit stack: a deep tree cannot overflow the call stack.
  const stack: { ino: number; parent: number; leaves: Leaf[] }[] = [{ ino: ROOT_INO, parent: ROOT_INO, leaves: rootLeaves }];
  let files = 0;
  let directories = 0;
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    directories++;
    for (const sub of await c.checkDir(top.ino, top.parent, top.leaves)) stack.push({ ...sub, parent: top.ino });
  }

  let usedZones = 0;
  for (let ino = 1; ino <= sb.ninodes; ino++) {
    const inode = c.inodes[ino];
    const inUse = await vol.imap.isSet(ino);
    if (c.reachable[ino]) {
      if (!isDir(inode.mode)) files++;
      if (!inUse) c.report({ kind: "imap", ino, detail: `inode ${ino} is in use but free in the inode map` });
      if (inode.nlinks !== c.refs[ino]) {
        c.report({ kind: "nlinks", ino, detail: `inode ${ino} has ${inode.nlinks} links, ${c.refs[ino]} counted` });
        if (o.repair) {
          inode.nlinks = c.refs[ino];
          c.dirty.add(ino);
        }
      }
    } else if (inUse) {
      c.report({ kind: "orphan", ino, detail: `inode ${ino} is marked in use but not reachable` });
      if (o.repair) {
        c.inodes[ino] = emptyInode();
        c.dirty.add(ino);
      }
    }
  }
  for (let z = 0; z < c.owner.length; z++) {
    const claimed = c.owner[z] !== 0;
    if (claimed) usedZones++;
    if (claimed !== (await vol.zmap.isSet(z + 1))) {
      c.report({
        kind: "zmap",
        zone: sb.firstDataZone + z,
        detail: `zone ${sb.firstDataZone + z} is ${claimed ? "used but free" : "free but marked used"} in the zone map`,
      });
    }
  }
  if (!(await bitZeroSet(vol))) c.report({ kind: "map-bit0", detail: "bit 0 of a bitmap is clear" });

  if (o.repair && c.found > 0) {
    for (const ino of c.dirty) await writeInode(vol, ino, c.inodes[ino]);
    await rebuildMaps(vol, c);
    await vol.cache.sync();
  }
  // A repaired (or found sound) disk is consistent again: the next mount may treat it as clean.
  if (o.repair && c.unrepairable === 0 && (sb.flags & FLAG_CLEAN) === 0) await writeSuper(dev, { ...sb, flags: sb.flags | FLAG_CLEAN });
  const repaired = o.repair ? c.found - c.unrepairable : 0;
  return { clean: c.found === 0, problems: c.problems, repaired, files, directories, usedZones };
}

async function bitZeroSet(vol: Volume): Promise<boolean> {
  const i = await vol.cache.get(vol.layout.imapStart);
  const z = await vol.cache.get(vol.layout.zmapStart);
  return (i[0] & 1) === 1 && (z[0] & 1) === 1;
}

/** Both bitmaps from what is reachable: bit 0 and the bits past the end stay set. */
async function rebuildMaps(vol: Volume, c: Checker): Promise<void> {
  const { sb, layout, cache } = vol;
  const bits = sb.blockSize * 8;
  const write = async (start: number, blocks: number, last: number, used: (bit: number) => boolean): Promise<void> => {
    for (let b = 0; b < blocks; b++) {
      const data = new Uint8Array(sb.blockSize);
      for (let i = 0; i < bits; i++) {
        const bit = b * bits + i;
        if (bit === 0 || bit > last || used(bit)) data[i >> 3] |= 1 << (i & 7);
      }
      await cache.put(start + b, data);
    }
  };
  await write(layout.imapStart, sb.imapBlocks, sb.ninodes, (bit) => c.reachable[bit] === 1);
  await write(layout.zmapStart, sb.zmapBlocks, c.owner.length, (bit) => c.owner[bit - 1] !== 0);
}
