// How vfs's calls reach the files a path names, and when they hold a mount's lock. A walk
// (lookup.ts) holds no lock: a lookup changes nothing, so a deep walk holds up no one, and
// a read is a read. A change (create, mkdir, unlink, rmdir, rename, truncate, a hold)
// holds the lock of the mount it changes from after its walk to its reply, one at a time
// per mount, so that a resent change can tell its own earlier success from someone else's
// (fs-server.ts). An inode number a walk found may name another file by the time the lock
// is had, if something freed an inode meanwhile: the change then walks again, holding it.
// A caller the kernel said is dead is not served: its requests are dropped where they wait
// (at the head of vfs's queue, at the lock, between two lookups), counted and logged.
import { MkError, typeName } from "#abi";
import type { Logger } from "#libsys";
import { isDir, type Found, type Mounted, type MountTable } from "./lookup.ts";
import { parsePath, type ParsedPath } from "./path.ts";

/** A server's errno, said about the path the user named (mfs knows only inode numbers). */
export function about(path: string, e: unknown): unknown {
  if (!(e instanceof MkError) || e.errno === "OK" || e.message.includes(path)) return e;
  return new MkError(e.errno, `${path}: ${e.message}`, { cause: e });
}

/** A path's parent directory and last name, on the mount that holds them. */
export interface ParentAt {
  m: Mounted;
  dir: number;
  name: string;
}

/** Where a dropped request was when its caller was found dead. */
export type DropPoint = "queue" | "lock" | "walk";

export class Namespace {
  readonly mounts: MountTable;
  private readonly isDead: (caller: string) => Promise<boolean>;
  private readonly log: Logger;
  /** Requests of dead callers not run (or stopped part way), since this vfs started. */
  dropped = 0;

  constructor(mounts: MountTable, isDead: (caller: string) => Promise<boolean>, log: Logger) {
    this.mounts = mounts;
    this.isDead = isDead;
    this.log = log;
  }

  /** Whether a caller is dead: then its request is dropped here (counted, logged) and the caller told EDEADSRCDST, which reaches no one. */
  async gone(caller: string, at: DropPoint, type?: number): Promise<boolean> {
    if (!(await this.isDead(caller))) return false;
    this.dropped++;
    this.log.info(
      { caller, at, dropped: this.dropped, ...(type !== undefined ? { msgType: typeName(type) } : {}) },
      "%s is dead: its request is dropped (%s)",
      caller,
      at,
    );
    return true;
  }

  private async live(caller: string, at: DropPoint): Promise<void> {
    if (await this.gone(caller, at)) throw new MkError("EDEADSRCDST", `${caller} died: its request was dropped before it was done`);
  }

  /** What a path names, walked without a lock (stat, getdents, statfs, and every change's first walk). */
  walk(caller: string, steps: readonly string[], path: string): Promise<Found> {
    return this.mounts.walk(steps, path, () => this.live(caller, "walk"));
  }

  /** Changes that may have freed an inode, on every mount (fs-server.ts's `frees`). */
  private freed(): number {
    let n = 0;
    for (const m of this.mounts.list) n += m.server.frees;
    return n;
  }

  /**
   * Runs a change at what `find` finds, holding the lock of the mount it is on. `find` runs
   * first without the lock, then again holding it if an inode may have been freed
   * meanwhile (its numbers might name other files now). A valid path is on the same mount
   * both times: what mount a path is on follows from its names alone.
   */
  async changing<X extends { m: Mounted }, T>(caller: string, find: () => Promise<X>, fn: (x: X) => Promise<T>): Promise<T> {
    const before = this.freed();
    let x = await find();
    return x.m.server.lock(async () => {
      await this.live(caller, "lock");
      if (this.freed() !== before) x = await find();
      return fn(x);
    });
  }

  /** Runs a change at what a path names (open, truncate). */
  atPath<T>(caller: string, path: string, fn: (found: Found) => Promise<T>): Promise<T> {
    const p = parsePath(path);
    return this.changing(caller, () => this.walk(caller, p.steps, path), fn).catch((e) => {
      throw about(path, e);
    });
  }

  /** Runs a change in a path's parent directory, on its last name (create, mkdir, unlink, rmdir). */
  atParent<T>(caller: string, path: string, what: string, fn: (at: ParentAt) => Promise<T>): Promise<T> {
    const p = parsePath(path);
    return this.changing(caller, () => this.parentOf(caller, p, path, what), fn).catch((e) => {
      throw about(path, e);
    });
  }

  /**
   * A path's parent directory and last name. A path that ends in "." or ".." names no entry
   * of its own: it is walked whole (it must exist), and then named by what it resolves to.
   * The root and mount points have no parent to change (EBUSY).
   */
  async parentOf(caller: string, p: ParsedPath, path: string, what: string): Promise<ParentAt> {
    let steps: readonly string[];
    let name: string;
    if (p.parent) ({ steps, name } = p.parent);
    else {
      const whole = await this.walk(caller, p.steps, path);
      if (whole.parts.length === 0) throw new MkError("EBUSY", `${what}: ${path} is the root`);
      steps = whole.parts.slice(0, -1);
      name = whole.parts[whole.parts.length - 1];
    }
    const dir = await this.walk(caller, steps, path);
    if (this.mounts.isMountPoint([...dir.parts, name])) throw new MkError("EBUSY", `${what}: ${path} is a mount point`);
    if (!isDir(dir.st)) throw new MkError("ENOTDIR", `${what}: the parent of ${path} is not a directory`);
    return { m: dir.m, dir: dir.st.ino, name };
  }
}
