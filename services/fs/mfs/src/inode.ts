// Inodes on disk and the map from a file's block index to its zone (MINIX's read_map and
// write_map): 7 direct zones, then single, double and triple indirect blocks of 32-bit zone
// numbers. Every zone number read from an inode or an indirect block is checked against the
// data area before it is used, so a damaged file is EUCLEAN naming the inode, never a read
// of some other file's (or the inode table's) blocks.
import { MkError } from "#abi";
import type { Bitmap } from "./bitmap.ts";
import type { BufferCache } from "./buffer-cache.ts";
import { INODE_SIZE, NR_DZONES, decodeInode, encodeInode, type Inode, type Layout, type SuperBlock } from "./disk-format.ts";

/** What the on-disk code shares: one mounted (or checked) volume. */
export interface Volume {
  sb: SuperBlock;
  layout: Layout;
  cache: BufferCache;
  imap: Bitmap;
  zmap: Bitmap;
}

function inodeBlock(vol: Volume, ino: number): { block: number; offset: number } {
  if (!Number.isInteger(ino) || ino < 1 || ino > vol.sb.ninodes)
    throw new MkError("EUCLEAN", `inode ${ino} is out of range 1..${vol.sb.ninodes}`);
  const perBlock = vol.sb.blockSize / INODE_SIZE;
  return { block: vol.layout.inodeStart + Math.floor((ino - 1) / perBlock), offset: ((ino - 1) % perBlock) * INODE_SIZE };
}

export async function readInode(vol: Volume, ino: number): Promise<Inode> {
  const w = inodeBlock(vol, ino);
  return decodeInode(await vol.cache.get(w.block), w.offset);
}

export async function writeInode(vol: Volume, ino: number, inode: Inode): Promise<void> {
  const w = inodeBlock(vol, ino);
  const data = await vol.cache.get(w.block);
  encodeInode(inode, data, w.offset);
  await vol.cache.put(w.block, data);
}

/** A zone number from the disk: 0 (a hole) or inside the data area. */
function checkZone(vol: Volume, zone: number, ino: number): number {
  if (zone !== 0 && (zone < vol.sb.firstDataZone || zone >= vol.sb.zones)) {
    throw new MkError("EUCLEAN", `inode ${ino}: zone ${zone} is outside the data area ${vol.sb.firstDataZone}..${vol.sb.zones - 1}`);
  }
  return zone;
}

async function allocZone(vol: Volume): Promise<number> {
  const zone = vol.sb.firstDataZone + (await vol.zmap.alloc()) - 1;
  // A fresh zone reads as zeros: holes in it, and bytes past the end of a file, must.
  await vol.cache.zeroed(zone);
  return zone;
}

async function freeZone(vol: Volume, zone: number): Promise<void> {
  await vol.zmap.release(zone - vol.sb.firstDataZone + 1);
}

interface Path {
  /** Index into i_zone. */
  slot: number;
  /** Index in each indirect block on the way down, outermost first. */
  idx: number[];
}

/** Where block `n` of a file hangs in the zone tree; EFBIG past the triple indirect block. */
function pathOf(vol: Volume, n: number): Path {
  const p = vol.layout.perBlock;
  if (n < NR_DZONES) return { slot: n, idx: [] };
  n -= NR_DZONES;
  if (n < p) return { slot: NR_DZONES, idx: [n] };
  n -= p;
  if (n < p * p) return { slot: NR_DZONES + 1, idx: [Math.floor(n / p), n % p] };
  n -= p * p;
  if (n < p * p * p) return { slot: NR_DZONES + 2, idx: [Math.floor(n / (p * p)), Math.floor(n / p) % p, n % p] };
  throw new MkError("EFBIG", `block ${n} is past the triple indirect block`);
}

function getPtr(block: Uint8Array, i: number): number {
  return new DataView(block.buffer, block.byteOffset).getUint32(i * 4, true);
}
function setPtr(block: Uint8Array, i: number, zone: number): void {
  new DataView(block.buffer, block.byteOffset).setUint32(i * 4, zone, true);
}

/** The zone holding block `n` of the file, or 0 for a hole. */
export async function bmap(vol: Volume, ino: number, inode: Inode, n: number): Promise<number> {
  const path = pathOf(vol, n);
  let zone = checkZone(vol, inode.zone[path.slot], ino);
  for (const i of path.idx) {
    if (zone === 0) return 0;
    zone = checkZone(vol, getPtr(await vol.cache.get(zone), i), ino);
  }
  return zone;
}

/** Like bmap, allocating the zone and any indirect blocks on the way; changes inode.zone in memory. */
export async function bmapAlloc(vol: Volume, ino: number, inode: Inode, n: number): Promise<number> {
  const path = pathOf(vol, n);
  let zone = checkZone(vol, inode.zone[path.slot], ino);
  if (zone === 0) {
    zone = await allocZone(vol);
    inode.zone[path.slot] = zone;
  }
  for (const i of path.idx) {
    const block = await vol.cache.get(zone);
    let next = checkZone(vol, getPtr(block, i), ino);
    if (next === 0) {
      next = await allocZone(vol);
      // The indirect block may have been evicted by the allocation: take it again before changing it.
      const again = await vol.cache.get(zone);
      setPtr(again, i, next);
      await vol.cache.put(zone, again);
    }
    zone = next;
  }
  return zone;
}

/** How many zones (data and indirect) mapping blocks first..last would allocate: checked before a write changes anything. */
export async function zonesNeeded(vol: Volume, ino: number, inode: Inode, first: number, last: number): Promise<number> {
  const planned = new Set<string>();
  let count = 0;
  for (let n = first; n <= last; n++) {
    const path = pathOf(vol, n);
    let key = `${path.slot}`;
    let zone = planned.has(key) ? -1 : checkZone(vol, inode.zone[path.slot], ino);
    const levels = [key];
    for (const i of path.idx) {
      key += `/${i}`;
      levels.push(key);
    }
    let depth = 0;
    while (zone > 0 && depth < path.idx.length) {
      zone = checkZone(vol, getPtr(await vol.cache.get(zone), path.idx[depth]), ino);
      depth++;
    }
    if (zone > 0) continue;
    // levels[depth] and everything below it are missing.
    for (let d = depth; d < levels.length; d++) {
      if (!planned.has(levels[d])) {
        planned.add(levels[d]);
        count++;
      }
    }
  }
  return count;
}

/**
 * Frees every data zone at block index >= from, and every indirect block left with no
 * zone under it; changes inode.zone in memory.
 */
export async function freeFrom(vol: Volume, ino: number, inode: Inode, from: number): Promise<void> {
  const p = vol.layout.perBlock;
  const spans = [1, p, p * p, p * p * p];
  let base = 0;
  for (let slot = 0; slot < inode.zone.length; slot++) {
    const level = slot < NR_DZONES ? 0 : slot - NR_DZONES + 1;
    const span = spans[level];
    if (base + span > from && (await freeTree(vol, ino, checkZone(vol, inode.zone[slot], ino), level, base, from))) inode.zone[slot] = 0;
    base += span;
  }
}

/** Returns true when `zone` was freed (or was a hole). */
async function freeTree(vol: Volume, ino: number, zone: number, level: number, base: number, from: number): Promise<boolean> {
  if (zone === 0) return true;
  if (level === 0) {
    if (base < from) return false;
    await freeZone(vol, zone);
    return true;
  }
  const p = vol.layout.perBlock;
  const childSpan = p ** (level - 1);
  const block = await vol.cache.get(zone);
  const ptrs: number[] = [];
  for (let i = 0; i < p; i++) ptrs.push(checkZone(vol, getPtr(block, i), ino));
  let changed = false;
  let left = 0;
  for (let i = 0; i < p; i++) {
    if (ptrs[i] === 0) continue;
    const childBase = base + i * childSpan;
    if (childBase + childSpan > from && (await freeTree(vol, ino, ptrs[i], level - 1, childBase, from))) {
      ptrs[i] = 0;
      changed = true;
    } else {
      left++;
    }
  }
  if (left === 0) {
    await freeZone(vol, zone);
    return true;
  }
  if (changed) {
    const again = await vol.cache.get(zone);
    for (let i = 0; i < p; i++) setPtr(again, i, ptrs[i]);
    await vol.cache.put(zone, again);
  }
  return false;
}

/** Zones the file holds, indirect blocks included (for st_blocks). */
export async function countZones(vol: Volume, ino: number, inode: Inode): Promise<number> {
  let count = 0;
  const walk = async (zone: number, level: number): Promise<void> => {
    if (zone === 0) return;
    count++;
    if (level === 0) return;
    const block = await vol.cache.get(zone);
    const ptrs: number[] = [];
    for (let i = 0; i < vol.layout.perBlock; i++) ptrs.push(checkZone(vol, getPtr(block, i), ino));
    for (const z of ptrs) await walk(z, level - 1);
  };
  for (let slot = 0; slot < inode.zone.length; slot++) {
    await walk(checkZone(vol, inode.zone[slot], ino), slot < NR_DZONES ? 0 : slot - NR_DZONES + 1);
  }
  return count;
}

export { getPtr, setPtr };
