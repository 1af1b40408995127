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

interface Level {
  m: Mounted;
  st: FileStat;
}

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

  /** The names of the mount points directly in a directory ("proc" in "/"). */
  mountsIn(parts: readonly string[]): string[] {
    return this.list.filter((m) => m.at.length === parts.length + 1 && parts.every((c, i) => m.at[i] === c)).map((m) => m.at[parts.length]);
  }

  /**
   * Walks a path's steps (path.ts) from the root. `step` runs before each lookup (the
   * caller's chance to stop a walk no one waits for). The walk begins on the deepest mount
   * its leading names reach, so a path under /proc asks procfs alone.
   */
  async walk(steps: readonly string[], path: string, step: () => Promise<void> = async () => undefined): Promise<Found> {
    const lead: string[] = [];
    for (const s of steps) {
      if (s === "..") break;
      if (isName(s)) lead.push(s);
    }
    const start = this.mountOf(lead).m;
    let i = 0;
    for (let names = 0; names < start.at.length; i++) if (isName(steps[i])) names++;
    const parts = [...start.at];
    const levels: Level[] = [await this.rootOf(start)];
    for (; i < steps.length; i++) {
      const s = steps[i];
      const cur = levels[levels.length - 1];
      if (!isDir(cur.st)) throw new MkError("ENOTDIR", `${joinPath(parts)} is not a directory, and ${path} goes on after it`);
      if (!isName(s)) {
        if (s !== ".." || parts.length === 0) continue; // "." and "//"; "/.." is "/"
        parts.pop();
        if (levels.length > 1) levels.pop();
        else levels.splice(0, 1, ...(await this.levelsTo(parts, path, step))); // above where the walk began
        continue;
      }
      await step();
      parts.push(s);
      levels.push(await this.down(cur, parts, s));
    }
    const { m, st } = levels[levels.length - 1];
    const root = this.mountAt(parts) === m;
    return { m, parts, st: { ...st, dev: m.server.label, ...(root ? { mount: m.path } : {}) } };
  }

  /** The directory chain from the mount holding these components down to them (each a directory the walk already passed). */
  private async levelsTo(parts: readonly string[], path: string, step: () => Promise<void>): Promise<Level[]> {
    const { m, rest } = this.mountOf(parts);
    const levels = [await this.rootOf(m)];
    for (let k = 0; k < rest.length; k++) {
      const cur = levels[levels.length - 1];
      if (!isDir(cur.st))
        throw new MkError("ENOTDIR", `${joinPath(parts.slice(0, m.at.length + k))} is not a directory, and ${path} goes on after it`);
      await step();
      levels.push(await this.down(cur, parts.slice(0, m.at.length + k + 1), rest[k]));
    }
    return levels;
  }

  /** One name down from a directory: the root of the mount there, or the entry. */
  private async down(cur: Level, parts: readonly string[], name: string): Promise<Level> {
    const below = this.mountAt(parts);
    if (below) return this.rootOf(below);
    return { m: cur.m, st: await cur.m.server.lookup({ dir: cur.st.ino, name }) };
  }

  private async rootOf(m: Mounted): Promise<Level> {
    return { m, st: await m.server.statIno({ ino: ROOT_INO }) };
  }
}
