// Makes an empty MINIX v3 file system: what util-linux's `mkfs.minix -3` writes (same
// layout and inode count), so fsck.minix accepts it and either side can mount the other's.
// Unlike util-linux it also sets MINIX 3's CLEAN flag, since a fresh disk is consistent.
import { MkError } from "#abi";
import { SECTOR_SIZE, type BlockDevice } from "./block-device.ts";
import {
  DIRENT_SIZE,
  DOT,
  DOTDOT,
  FLAG_CLEAN,
  INODE_SIZE,
  MAX_FILE_SIZE,
  ROOT_INO,
  S_IFDIR,
  START_BLOCK,
  emptyInode,
  encodeDirent,
  encodeInode,
  encodeSuper,
  inodeBlocksFor,
  type BlockSize,
  type SuperBlock,
} from "./disk-format.ts";

export type SuperInfo = Readonly<SuperBlock>;

export interface MkfsOptions {
  blockSize?: BlockSize;
  inodes?: number;
  /** Milliseconds since the epoch, for the root directory's times. */
  now?: number;
}

/** util-linux's default: a third of the blocks, fewer on big disks. */
function defaultInodes(blocks: number): number {
  if (blocks > 2048 * 1024) return Math.floor(blocks / 16);
  if (blocks > 512 * 1024) return Math.floor(blocks / 8);
  return Math.floor(blocks / 3);
}

/** Sets bits [from, to) of a bitmap made of whole blocks. */
function setBits(map: Uint8Array, from: number, to: number): void {
  for (let b = from; b < to; b++) map[b >> 3] |= 1 << (b & 7);
}

export async function mkfs(dev: BlockDevice, o: MkfsOptions = {}): Promise<SuperInfo> {
  const blockSize = o.blockSize ?? 1024;
  if (![1024, 2048, 4096].includes(blockSize)) throw new MkError("EINVAL", `block size ${blockSize}`);
  const blocks = Math.floor((dev.sectors * SECTOR_SIZE) / blockSize);
  if (blocks > 0xffffffff) throw new MkError("EINVAL", `${blocks} blocks do not fit the 32-bit zone count`);
  if (blocks < 8) throw new MkError("EINVAL", `a device of ${blocks} blocks is too small`);
  const perInodeBlock = blockSize / INODE_SIZE;
  const wanted = o.inodes ?? Math.max(1, defaultInodes(blocks));
  if (!Number.isInteger(wanted) || wanted < 1) throw new MkError("EINVAL", `inode count ${wanted}`);
  // Fill the last inode-table block, as util-linux does: the space is used either way.
  const ninodes = Math.ceil(wanted / perInodeBlock) * perInodeBlock;
  if (ninodes >= 0xffffffff) throw new MkError("EINVAL", `inode count ${ninodes}`);
  const bits = blockSize * 8;
  const imapBlocks = Math.ceil((ninodes + 1) / bits);
  const inodeBlocks = inodeBlocksFor(ninodes, blockSize);
  let zmapBlocks = 1;
  while (zmapBlocks * bits < blocks - (START_BLOCK + imapBlocks + zmapBlocks + inodeBlocks) + 1) zmapBlocks++;
  const firstDataZone = START_BLOCK + imapBlocks + zmapBlocks + inodeBlocks;
  if (imapBlocks > 0xffff || zmapBlocks > 0xffff || firstDataZone > 0xffff) {
    throw new MkError("EINVAL", `${ninodes} inodes and ${blocks} blocks need maps or a data start past the 16-bit superblock fields`);
  }
  if (firstDataZone + 1 > blocks)
    throw new MkError("EINVAL", `a device of ${blocks} blocks leaves no room for data after block ${firstDataZone}`);

  const sb: SuperBlock = {
    ninodes,
    imapBlocks,
    zmapBlocks,
    firstDataZone,
    logZoneSize: 0,
    flags: FLAG_CLEAN,
    maxSize: MAX_FILE_SIZE,
    zones: blocks,
    blockSize,
    diskVersion: 0,
  };
  const sectorsPerBlock = blockSize / SECTOR_SIZE;
  const writeBlocks = (block: number, data: Uint8Array): Promise<void> => dev.write(block * sectorsPerBlock, data);

  // Inode map: bit 0 reserved, bit 1 the root, bits past the last inode set so they are never handed out.
  const imap = new Uint8Array(imapBlocks * blockSize);
  setBits(imap, 0, 2);
  setBits(imap, ninodes + 1, imapBlocks * bits);
  await writeBlocks(START_BLOCK, imap);

  // Zone map: bit 0 reserved, bit 1 the root directory's zone, bits past the last zone set.
  const dataZones = blocks - firstDataZone;
  const zmap = new Uint8Array(zmapBlocks * blockSize);
  setBits(zmap, 0, 2);
  setBits(zmap, dataZones + 1, zmapBlocks * bits);
  await writeBlocks(START_BLOCK + imapBlocks, zmap);

  const secs = Math.floor((o.now ?? Date.now()) / 1000);
  const root = emptyInode();
  root.mode = S_IFDIR | 0o755;
  root.nlinks = 2;
  root.size = 2 * DIRENT_SIZE;
  root.atime = root.mtime = root.ctime = secs;
  root.zone[0] = firstDataZone;
  const table = new Uint8Array(inodeBlocks * blockSize);
  encodeInode(root, table, (ROOT_INO - 1) * INODE_SIZE);
  await writeBlocks(START_BLOCK + imapBlocks + zmapBlocks, table);

  const dir = new Uint8Array(blockSize);
  encodeDirent(dir, 0, ROOT_INO, DOT);
  encodeDirent(dir, DIRENT_SIZE, ROOT_INO, DOTDOT);
  await writeBlocks(firstDataZone, dir);
  await dev.flush();
  // Boot block and superblock (the first 2048 bytes, whatever the block size) last: a mkfs
  // cut short leaves no superblock, so the disk still reads as blank and is made again.
  const head = new Uint8Array(2048);
  head.set(encodeSuper(sb), 1024);
  await dev.write(0, head);
  await dev.flush();
  return sb;
}
