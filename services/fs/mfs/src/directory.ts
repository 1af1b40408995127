// Directories: a file of 64-byte entries (u32 inode, 60-byte name), scanned linearly as
// MINIX's search_dir does. An entry with inode 0 is free and is reused by the next add. A
// directory's size always covers whole entries; entries are counted by slot index, which
// is also readdir's cookie, so a listing resumes where it stopped even across removals.
import { MkError } from "#abi";
import { DIRENT_SIZE, decodeDirent, encodeDirent, sameName, type Inode } from "./disk-format.ts";
import { bmap, bmapAlloc, zonesNeeded, type Volume } from "./inode.ts";

export interface Slot {
  slot: number;
  ino: number;
  name: Uint8Array;
}

function slotsOf(dir: Inode): number {
  return Math.floor(dir.size / DIRENT_SIZE);
}

/**
 * Calls `visit` for each slot from `start` on (holes in the directory read as free slots),
 * until it returns true. Returns the slot that stopped the walk, or -1.
 */
export async function walkDir(vol: Volume, dirIno: number, dir: Inode, start: number, visit: (s: Slot) => boolean): Promise<number> {
  // Every lookup, add and listing walks the directory: one that claims more bytes than the
  // volume's data zones hold is damage (a flipped size byte would otherwise make each of
  // them walk gigabytes of holes).
  const most = (vol.sb.zones - vol.sb.firstDataZone) * vol.sb.blockSize;
  if (dir.size > most)
    throw new MkError("EUCLEAN", `directory inode ${dirIno} claims ${dir.size} bytes, more than the volume's data zones hold (${most})`, {
      detail: { arg: "size", got: dir.size, limit: most },
    });
  const perBlock = vol.sb.blockSize / DIRENT_SIZE;
  const total = slotsOf(dir);
  for (let slot = Math.max(0, start); slot < total; ) {
    const blockIndex = Math.floor(slot / perBlock);
    const zone = await bmap(vol, dirIno, dir, blockIndex);
    const end = Math.min(total, (blockIndex + 1) * perBlock);
    if (zone === 0) {
      for (; slot < end; slot++) if (visit({ slot, ino: 0, name: new Uint8Array(0) })) return slot;
      continue;
    }
    const data = await vol.cache.get(zone);
    for (; slot < end; slot++) {
      const e = decodeDirent(data, (slot % perBlock) * DIRENT_SIZE);
      if (visit({ slot, ino: e.ino, name: e.name })) return slot;
    }
  }
  return -1;
}

/** The entry named `name`, and the first free slot (or the end of the directory). */
export async function findEntry(vol: Volume, dirIno: number, dir: Inode, name: Uint8Array): Promise<{ found?: Slot; free: number }> {
  let found: Slot | undefined;
  let free = -1;
  await walkDir(vol, dirIno, dir, 0, (s) => {
    if (s.ino === 0) {
      if (free < 0) free = s.slot;
      return false;
    }
    if (sameName(s.name, name)) {
      found = { slot: s.slot, ino: s.ino, name: s.name.slice() };
      return true;
    }
    return false;
  });
  return { found, free: free < 0 ? slotsOf(dir) : free };
}

/** Zones an entry in `slot` would need (0 when it is inside an allocated block). */
export async function zonesForSlot(vol: Volume, dirIno: number, dir: Inode, slot: number): Promise<number> {
  const blockIndex = Math.floor((slot * DIRENT_SIZE) / vol.sb.blockSize);
  return zonesNeeded(vol, dirIno, dir, blockIndex, blockIndex);
}

/** Writes an entry into `slot`, growing the directory (in memory: the caller writes the inode). */
export async function putEntry(vol: Volume, dirIno: number, dir: Inode, slot: number, ino: number, name: Uint8Array): Promise<void> {
  const offset = slot * DIRENT_SIZE;
  if (offset + DIRENT_SIZE > 0xffffffff) throw new MkError("EFBIG", `directory ${dirIno} is full`);
  const zone = await bmapAlloc(vol, dirIno, dir, Math.floor(offset / vol.sb.blockSize));
  const data = await vol.cache.get(zone);
  encodeDirent(data, offset % vol.sb.blockSize, ino, name);
  await vol.cache.put(zone, data);
  if (offset + DIRENT_SIZE > dir.size) dir.size = offset + DIRENT_SIZE;
}

/** Points an existing entry at another inode (0 removes it: MINIX keeps the name). */
export async function setEntryIno(vol: Volume, dirIno: number, dir: Inode, slot: number, ino: number): Promise<void> {
  const offset = slot * DIRENT_SIZE;
  const zone = await bmap(vol, dirIno, dir, Math.floor(offset / vol.sb.blockSize));
  if (zone === 0) throw new MkError("EUCLEAN", `directory ${dirIno}: slot ${slot} is in a hole`);
  const data = await vol.cache.get(zone);
  new DataView(data.buffer, data.byteOffset).setUint32(offset % vol.sb.blockSize, ino, true);
  await vol.cache.put(zone, data);
}

/** True when the directory holds nothing but "." and "..". */
export async function isEmptyDir(vol: Volume, dirIno: number, dir: Inode): Promise<boolean> {
  return (await walkDir(vol, dirIno, dir, 2, (s) => s.ino !== 0)) < 0;
}
