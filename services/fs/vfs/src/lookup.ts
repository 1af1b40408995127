// Path lookup (MINIX VFS's path.c): the mount table, and a path walked component by
// component from the root across the mounts. Each name is looked up in the directory the
// walk has reached; "." and ".." need that to be a directory and are taken from the walk
// itself (no server is asked: mkos has no symbolic links, and ".." of a mount's root is
// the directory it is mounted on, as on Linux).
import { isDirMode, MkError, type FileStat } from "#abi";
import type { FsServer } from "./fs-server.ts";
import { isName, joinPath, parsePath } from "./path.ts";

const ROOT_INO = 1;

export interface Mounted {
  at: string[];
  path: string;
  server: FsServer;
}

/** What a walk found: the inode (with the server holding it, and where it is mounted if it is a mount's root), its mount, and the names that lead to it. */
export interface Found {
  m: Mounted;
  parts: string[];
  st: FileStat;
}

/**
 * Where a walk is. A directory the walk passes through needs no attributes, only its
 * number: a mount's root (inode 1; a file system's root is a directory, mfs mounts nothing
 * else) and a directory in the server's name cache are not asked; the walk's last level is,
 * if it got there so (st undefined).
 */
interface Level {
  m: Mounted;
  ino: number;
  st?: FileStat;
}

const goesOn = (l: Level): boolean => l.st === undefined || isDir(l.st);

/** What a cached name that led where it no longer leads meets (the walk is then made again, asking every name). */
const staleErrnos = new Set(["ESTALE", "ENOTDIR", "EUCLEAN"]);

export const isDir = (s: FileStat): boolean => isDirMode(s.mode);

export class MountTable {
  /** Deepest first: a path belongs to the deepest mount above it. */
  readonly list: Mounted[];

  constructor(mounts: { path: string; server: FsServer }[]) {
    this.list = mounts
      .map((m) => ({ at: parsePath(m.path).parts, path: m.path, server: m.server }))
      .sort((a, b) => b.at.length - a.at.length);
    if (!this.list.some((m) => m.at.length === 0)) throw new MkError("EINVAL", "vfs needs a file system mounted on /");
  }

  mountOf(parts: readonly string[]): { m: Mounted; rest: string[] } {
    const m = this.list.find((x) => x.at.every((c, i) => parts[i] === c))!;
    return { m, rest: parts.slice(m.at.length) };
  }

  /** The mount whose root these components name, if any ("/" for []). */
  mountAt(parts: readonly string[]): Mounted | undefined {
    return this.list.find((m) => m.at.length === parts.length && m.at.every((c, i) => parts[i] === c));
  }

  isMountPoint(parts: readonly string[]): boolean {
    return parts.length > 0 && this.mountAt(parts) !== undefined;
  }

  /** How often the mounts' name caches were emptied, all together. */
  private emptied(): number {
    let n = 0;
    for (const m of this.list) n += m.server.namesEmptied;
    return n;
  }

  /** The names of the mount points directly in a directory ("proc" in "/"). */
  mountsIn(parts: readonly string[]): string[] {
    return this.list.filter((m) => m.at.length === parts.length + 1 && parts.every((c, i) => m.at[i] === c)).map((m) => m.at[parts.length]);
  }

  /**
   * Walks a path's steps (path.ts) from the root. `step` runs before each lookup (the
   * caller's chance to stop a walk no one waits for). The walk begins on the deepest mount
   * its leading names reach, so a path under /proc asks procfs alone. Directories it passes
   * through come from the servers' name caches when they can (fs-server.ts), and the last
   * level is always asked: "/a/b" costs one lookup when "a" is cached. A cached name that
   * turns out stale (a number freed or reused behind vfs, as by mkctl mkfs: ESTALE,
   * ENOTDIR, or a directory that is not one) empties the caches and the walk is made again,
   * every name asked.
   */
  async walk(steps: readonly string[], path: string, step: () => Promise<void> = async () => undefined): Promise<Found> {
    const cached = { used: false };
    try {
      return await this.walkOnce(steps, path, step, cached);
    } catch (e) {
      if (!cached.used || !(e instanceof MkError && staleErrnos.has(e.errno))) throw e;
      for (const m of this.list) m.server.forgetDirs();
      return this.walkOnce(steps, path, step, undefined);
    }
  }

  private async walkOnce(
    steps: readonly string[],
    path: string,
    step: () => Promise<void>,
    cached: { used: boolean } | undefined,
  ): Promise<Found> {
    const emptied = this.emptied();
    const lead: string[] = [];
    for (const s of steps) {
      if (s === "..") break;
      if (isName(s)) lead.push(s);
    }
    const start = this.mountOf(lead).m;
    let i = 0;
    for (let names = 0; names < start.at.length; i++) if (isName(steps[i])) names++;
    const parts = [...start.at];
    const levels: Level[] = [{ m: start, ino: ROOT_INO }];
    for (; i < steps.length; i++) {
      const s = steps[i];
      const cur = levels[levels.length - 1];
      if (!goesOn(cur)) throw new MkError("ENOTDIR", `${joinPath(parts)} is not a directory, and ${path} goes on after it`);
      if (!isName(s)) {
        if (s !== ".." || parts.length === 0) continue; // "." and "//"; "/.." is "/"
        parts.pop();
        if (levels.length > 1) levels.pop();
        else levels.splice(0, 1, ...(await this.levelsTo(parts, path, step, cached))); // above where the walk began
        continue;
      }
      await step();
      parts.push(s);
      levels.push(await this.down(cur, parts, s, cached));
    }
    const last = levels[levels.length - 1];
    const { m } = last;
    let st = last.st;
    if (st === undefined) {
      st = await m.server.statIno({ ino: last.ino });
      // Only directories are cached, and a root is one: anything else means the number was reused.
      if (!isDir(st)) throw new MkError("ESTALE", `inode ${last.ino} is no longer a directory`);
    }
    // A cached name was used, and a server's names moved since the walk began: it may have been old.
    if (cached?.used && this.emptied() !== emptied) throw new MkError("ESTALE", `the names under ${path} changed during the walk`);
    const root = this.mountAt(parts) === m;
    return { m, parts, st: { ...st, dev: m.server.label, ...(root ? { mount: m.path } : {}) } };
  }

  /** The directory chain from the mount holding these components down to them (each a directory the walk already passed). */
  private async levelsTo(
    parts: readonly string[],
    path: string,
    step: () => Promise<void>,
    cached: { used: boolean } | undefined,
  ): Promise<Level[]> {
    const { m, rest } = this.mountOf(parts);
    const levels: Level[] = [{ m, ino: ROOT_INO }];
    for (let k = 0; k < rest.length; k++) {
      const cur = levels[levels.length - 1];
      if (!goesOn(cur))
        throw new MkError("ENOTDIR", `${joinPath(parts.slice(0, m.at.length + k))} is not a directory, and ${path} goes on after it`);
      await step();
      levels.push(await this.down(cur, parts.slice(0, m.at.length + k + 1), rest[k], cached));
    }
    return levels;
  }

  /** One name down from a directory: the root of the mount there, a directory the name cache knows (when `cached` allows), or the entry. */
  private async down(cur: Level, parts: readonly string[], name: string, cached: { used: boolean } | undefined): Promise<Level> {
    const below = this.mountAt(parts);
    if (below) return { m: below, ino: ROOT_INO };
    const known = cached ? cur.m.server.cachedDir(cur.ino, name) : undefined;
    if (known !== undefined && cached) {
      cached.used = true;
      return { m: cur.m, ino: known };
    }
    const st = await cur.m.server.lookup({ dir: cur.ino, name });
    return { m: cur.m, ino: st.ino, st };
  }
}
