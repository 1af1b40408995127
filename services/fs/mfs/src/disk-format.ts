// The MINIX v3 on-disk layout (the one util-linux's mkfs.minix -3 writes and fsck.minix
// checks): constants, and encode/decode of the superblock, inodes and directory entries.
// Everything decoded here came off a disk and is checked before anyone uses it, so a damaged
// disk shows up as EUCLEAN naming the bad field instead of a RangeError deep in the server.
import { MkError, S } from "#abi";

/** The superblock lives at byte 1024 whatever the block size (the boot block is before it). */
export const SUPER_OFFSET = 1024;
export const SUPER_SIZE = 1024;
const MAGIC_V3 = 0x4d5a;
/** First block of the inode map: boot block and superblock take blocks 0 and 1 (MINIX's START_BLOCK). */
export const START_BLOCK = 2;
export const INODE_SIZE = 64;
export const DIRENT_SIZE = 64;
export const NAME_MAX = 60;
export const ROOT_INO = 1;
export const NR_DZONES = 7;
const NR_ZONES = 10;
/** s_flags (util-linux's s_pad1): set while the file system is not mounted (MINIX's MFSFLAG_CLEAN). */
export const FLAG_CLEAN = 0x0001;
/** Flags a reader must understand to use the disk (MINIX's MFSFLAG_MANDATORY_MASK). */
const FLAG_MANDATORY_MASK = 0xff00;
const BLOCK_SIZES = [1024, 2048, 4096] as const;
export type BlockSize = (typeof BLOCK_SIZES)[number];
/** The largest file util-linux and MINIX declare for v3 (i_size is 32 bits; MINIX keeps it signed). */
export const MAX_FILE_SIZE = 0x7fffffff;

// The mode's file-type bits are the ABI's (Linux's values, which MINIX shares).
export const S_IFMT = S.IFMT;
const S_IFLNK = S.IFLNK;
export const S_IFREG = S.IFREG;
export const S_IFDIR = S.IFDIR;

export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}
/** Types whose i_zone holds data zones (fsck.minix walks only these). */
export function hasZones(mode: number): boolean {
  const t = mode & S_IFMT;
  return t === S_IFREG || t === S_IFDIR || t === S_IFLNK;
}
export function isKnownType(mode: number): boolean {
  const t = mode & S_IFMT;
  return (Object.values(S) as number[]).includes(t) && t !== S.IFMT;
}

export interface SuperBlock {
  ninodes: number;
  imapBlocks: number;
  zmapBlocks: number;
  firstDataZone: number;
  logZoneSize: number;
  flags: number;
  maxSize: number;
  zones: number;
  blockSize: BlockSize;
  diskVersion: number;
}

/** Where each region starts, in blocks, derived once from a checked superblock. */
export interface Layout {
  imapStart: number;
  zmapStart: number;
  inodeStart: number;
  inodeBlocks: number;
  /** Zone pointers held by one indirect block. */
  perBlock: number;
}

export function inodeBlocksFor(ninodes: number, blockSize: number): number {
  return Math.ceil((ninodes * INODE_SIZE) / blockSize);
}

export function layoutOf(sb: SuperBlock): Layout {
  const imapStart = START_BLOCK;
  const zmapStart = imapStart + sb.imapBlocks;
  const inodeStart = zmapStart + sb.zmapBlocks;
  return { imapStart, zmapStart, inodeStart, inodeBlocks: inodeBlocksFor(sb.ninodes, sb.blockSize), perBlock: sb.blockSize / 4 };
}

/** Largest file the zone tree can address, capped by what the superblock declares. */
export function maxFileSize(sb: SuperBlock): number {
  const n = sb.blockSize / 4;
  const tree = (NR_DZONES + n + n * n + n * n * n) * sb.blockSize;
  return Math.min(tree, sb.maxSize, 0xffffffff);
}

export function encodeSuper(sb: SuperBlock): Uint8Array {
  const out = new Uint8Array(SUPER_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, sb.ninodes, true);
  v.setUint16(4, 0, true);
  v.setUint16(6, sb.imapBlocks, true);
  v.setUint16(8, sb.zmapBlocks, true);
  v.setUint16(10, sb.firstDataZone, true);
  v.setUint16(12, sb.logZoneSize, true);
  v.setUint16(14, sb.flags, true);
  v.setUint32(16, sb.maxSize, true);
  v.setUint32(20, sb.zones, true);
  v.setUint16(24, MAGIC_V3, true);
  v.setUint16(26, 0, true);
  v.setUint16(28, sb.blockSize, true);
  v.setUint8(30, sb.diskVersion);
  return out;
}

function bad(what: string): MkError {
  return new MkError("EUCLEAN", `superblock: ${what}`);
}

/**
 * Decodes and checks the superblock (the 1024 bytes at byte 1024) against the device size
 * in bytes. Throws EUCLEAN naming the first inconsistent field.
 */
export function decodeSuper(bytes: Uint8Array, deviceBytes: number): SuperBlock {
  if (bytes.length < 32) throw bad(`only ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint16(24, true);
  if (magic !== MAGIC_V3) throw bad(`magic 0x${magic.toString(16)} is not MINIX v3's 0x4d5a`);
  const blockSize = v.getUint16(28, true);
  if (!(BLOCK_SIZES as readonly number[]).includes(blockSize)) throw bad(`block size ${blockSize} is not 1024, 2048 or 4096`);
  const sb: SuperBlock = {
    ninodes: v.getUint32(0, true),
    imapBlocks: v.getUint16(6, true),
    zmapBlocks: v.getUint16(8, true),
    firstDataZone: v.getUint16(10, true),
    logZoneSize: v.getUint16(12, true),
    flags: v.getUint16(14, true),
    maxSize: v.getUint32(16, true),
    zones: v.getUint32(20, true),
    blockSize: blockSize as BlockSize,
    diskVersion: v.getUint8(30),
  };
  if (sb.logZoneSize !== 0) throw bad(`s_log_zone_size ${sb.logZoneSize}: only zones of one block are supported`);
  if ((sb.flags & FLAG_MANDATORY_MASK) !== 0) throw bad(`unknown mandatory flags 0x${sb.flags.toString(16)}`);
  if (sb.ninodes < 1 || sb.ninodes === 0xffffffff) throw bad(`s_ninodes ${sb.ninodes}`);
  const deviceBlocks = Math.floor(deviceBytes / blockSize);
  if (sb.zones > deviceBlocks) throw bad(`s_zones ${sb.zones} is more than the device's ${deviceBlocks} blocks`);
  const bits = blockSize * 8;
  if (sb.imapBlocks < 1 || sb.imapBlocks * bits < sb.ninodes + 1)
    throw bad(`s_imap_blocks ${sb.imapBlocks} too small for ${sb.ninodes} inodes`);
  const first = START_BLOCK + sb.imapBlocks + sb.zmapBlocks + inodeBlocksFor(sb.ninodes, blockSize);
  if (sb.firstDataZone !== first) throw bad(`s_firstdatazone ${sb.firstDataZone}, the layout puts it at ${first}`);
  if (sb.zones <= sb.firstDataZone) throw bad(`s_zones ${sb.zones} leaves no data zone after ${sb.firstDataZone}`);
  if (sb.zmapBlocks < 1 || sb.zmapBlocks * bits < sb.zones - sb.firstDataZone + 1)
    throw bad(`s_zmap_blocks ${sb.zmapBlocks} too small for ${sb.zones} zones`);
  return sb;
}

export interface Inode {
  mode: number;
  nlinks: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  /** 7 direct, single, double, triple indirect. */
  zone: number[];
}

export function emptyInode(): Inode {
  return { mode: 0, nlinks: 0, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0, ctime: 0, zone: new Array<number>(NR_ZONES).fill(0) };
}

/** Decodes the inode at `offset` of a block. Field values are checked where they are used. */
export function decodeInode(block: Uint8Array, offset: number): Inode {
  if (offset < 0 || offset + INODE_SIZE > block.length) throw new MkError("EUCLEAN", `inode at byte ${offset} is outside its block`);
  const v = new DataView(block.buffer, block.byteOffset + offset, INODE_SIZE);
  const zone: number[] = [];
  for (let i = 0; i < NR_ZONES; i++) zone.push(v.getUint32(24 + 4 * i, true));
  return {
    mode: v.getUint16(0, true),
    nlinks: v.getUint16(2, true),
    uid: v.getUint16(4, true),
    gid: v.getUint16(6, true),
    size: v.getUint32(8, true),
    atime: v.getUint32(12, true),
    mtime: v.getUint32(16, true),
    ctime: v.getUint32(20, true),
    zone,
  };
}

export function encodeInode(ino: Inode, block: Uint8Array, offset: number): void {
  const v = new DataView(block.buffer, block.byteOffset + offset, INODE_SIZE);
  v.setUint16(0, ino.mode, true);
  v.setUint16(2, ino.nlinks, true);
  v.setUint16(4, ino.uid, true);
  v.setUint16(6, ino.gid, true);
  v.setUint32(8, ino.size, true);
  v.setUint32(12, ino.atime >>> 0, true);
  v.setUint32(16, ino.mtime >>> 0, true);
  v.setUint32(20, ino.ctime >>> 0, true);
  for (let i = 0; i < NR_ZONES; i++) v.setUint32(24 + 4 * i, ino.zone[i] ?? 0, true);
}

export interface RawDirent {
  ino: number;
  /** The name's bytes, up to the first NUL (all 60 when there is none). */
  name: Uint8Array;
}

export function decodeDirent(block: Uint8Array, offset: number): RawDirent {
  if (offset < 0 || offset + DIRENT_SIZE > block.length)
    throw new MkError("EUCLEAN", `directory entry at byte ${offset} is outside its block`);
  const ino = new DataView(block.buffer, block.byteOffset + offset, 4).getUint32(0, true);
  const raw = block.subarray(offset + 4, offset + DIRENT_SIZE);
  const nul = raw.indexOf(0);
  return { ino, name: raw.subarray(0, nul === -1 ? NAME_MAX : nul) };
}

export function encodeDirent(block: Uint8Array, offset: number, ino: number, name: Uint8Array): void {
  new DataView(block.buffer, block.byteOffset + offset, 4).setUint32(0, ino, true);
  block.fill(0, offset + 4, offset + DIRENT_SIZE);
  block.set(name.subarray(0, NAME_MAX), offset + 4);
}

const utf8 = new TextEncoder();

/** Checks a name given by a caller and returns its on-disk bytes. */
export function encodeName(name: string): Uint8Array {
  if (typeof name !== "string" || name.length === 0) throw new MkError("EINVAL", "empty name");
  if (name.includes("/") || name.includes("\0")) throw new MkError("EINVAL", "a name holds no '/' or NUL");
  const bytes = utf8.encode(name);
  if (bytes.length > NAME_MAX) throw new MkError("ENAMETOOLONG", `name of ${bytes.length} bytes is over ${NAME_MAX}`);
  return bytes;
}

/** A name as stored on disk is usable: not empty, no '/'. */
export function validStoredName(bytes: Uint8Array): boolean {
  return bytes.length > 0 && !bytes.includes(0x2f);
}

export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const DOT = utf8.encode(".");
export const DOTDOT = utf8.encode("..");
