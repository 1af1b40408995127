// rename, the one operation that touches two directories and up to three inodes (MINIX's
// fs_rename). Every refusal (names, types, a non-empty target, a directory moved under
// itself, link counts, space) is decided before the first change, so a failed rename
// leaves the disk as it was.
import { MkError } from "#abi";
import { DOTDOT, ROOT_INO, encodeName, isDir } from "./disk-format.ts";
import { findEntry, isEmptyDir, putEntry, setEntryIno, zonesForSlot } from "./directory.ts";
import { writeInode, type Volume } from "./inode.ts";
import type { Inode } from "./disk-format.ts";

/** What a rename needs of the file system (MinixFs has it): its own port, not the whole class. */
export interface RenameFs {
  readonly vol: Volume;
  now(): number;
  inodeFor(ino: number, errno?: "ESTALE" | "EUCLEAN"): Promise<Inode>;
  dirFor(ino: number): Promise<Inode>;
  entry(dir: number, name: string): Promise<{ d: Inode; slot: number; ino: number; inode: Inode; free: number }>;
  dropLink(ino: number, inode: Inode, links?: number): Promise<void>;
}

/** Walks ".." from `dir` to the root; EINVAL if it passes through `ino` (a move under itself). */
async function refuseMoveUnder(fs: RenameFs, vol: Volume, ino: number, dir: number): Promise<void> {
  let cur = dir;
  for (let steps = 0; cur !== ROOT_INO; steps++) {
    if (cur === ino) throw new MkError("EINVAL", `directory ${ino} cannot move under itself`);
    if (steps > vol.sb.ninodes) throw new MkError("EUCLEAN", `the '..' chain from directory ${dir} loops`);
    const d = await fs.dirFor(cur).catch((e: unknown) => {
      throw e instanceof MkError ? new MkError("EUCLEAN", `'..' chain from directory ${dir}: ${e.message}`) : e;
    });
    const up = await findEntry(vol, cur, d, DOTDOT);
    if (up.found === undefined) throw new MkError("EUCLEAN", `directory ${cur} has no '..'`);
    cur = up.found.ino;
  }
}

export async function renameEntry(fs: RenameFs, srcDir: number, srcName: string, dstDir: number, dstName: string): Promise<void> {
  const vol = fs.vol;
  const dstBytes = encodeName(dstName);
  encodeName(srcName);
  if ([srcName, dstName].some((n) => n === "." || n === "..")) throw new MkError("EINVAL", "rename of . or ..");
  const src = await fs.entry(srcDir, srcName);
  const dd = srcDir === dstDir ? src.d : await fs.dirFor(dstDir);
  const { found, free } = await findEntry(vol, dstDir, dd, dstBytes);
  const srcIsDir = isDir(src.inode.mode);
  let target: { ino: number; slot: number; inode: Inode } | undefined;
  if (found !== undefined) {
    // Two names for one file: POSIX says rename does nothing.
    if (found.ino === src.ino) return;
    target = { ino: found.ino, slot: found.slot, inode: await fs.inodeFor(found.ino, "EUCLEAN") };
    const targetIsDir = isDir(target.inode.mode);
    if (srcIsDir && !targetIsDir) throw new MkError("ENOTDIR", `target inode ${found.ino} is not a directory`);
    if (!srcIsDir && targetIsDir) throw new MkError("EISDIR", `target inode ${found.ino} is a directory`);
    if (targetIsDir && !(await isEmptyDir(vol, found.ino, target.inode)))
      throw new MkError("ENOTEMPTY", `target directory ${found.ino} has entries`);
  }
  const moving = srcIsDir && srcDir !== dstDir;
  if (moving) {
    await refuseMoveUnder(fs, vol, src.ino, dstDir);
    if (target === undefined && dd.nlinks >= 0xffff) throw new MkError("EMLINK", `directory ${dstDir} has ${dd.nlinks} links`);
  }
  if (target === undefined) {
    const need = await zonesForSlot(vol, dstDir, dd, free);
    if (vol.zmap.free < need) throw new MkError("ENOSPC", `${need} zones needed, ${vol.zmap.free} free`);
  }

  const now = fs.now();
  if (target !== undefined) await setEntryIno(vol, dstDir, dd, target.slot, src.ino);
  else await putEntry(vol, dstDir, dd, free, src.ino, dstBytes);
  await setEntryIno(vol, srcDir, src.d, src.slot, 0);
  if (moving) {
    await setEntryIno(vol, src.ino, src.inode, 1, dstDir);
    src.d.nlinks--;
    dd.nlinks++;
  }
  // A replaced directory's '..' no longer counts as a link to its parent.
  if (target !== undefined && isDir(target.inode.mode)) dd.nlinks--;
  src.inode.ctime = now;
  src.d.mtime = src.d.ctime = dd.mtime = dd.ctime = now;
  await writeInode(vol, src.ino, src.inode);
  await writeInode(vol, srcDir, src.d);
  if (dd !== src.d) await writeInode(vol, dstDir, dd);
  if (target !== undefined) await fs.dropLink(target.ino, target.inode, isDir(target.inode.mode) ? target.inode.nlinks : 1);
}
