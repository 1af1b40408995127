// vfs's side of one mounted file-system server (NFS v3's client, in vfs). Every request
// follows the server across its incarnations (libsys's Recovering). What this adds:
//
// - Unstable writes. A write is acknowledged once it is in the server's cache; vfs keeps
//   its bytes until the server commits them (FS_SYNC, or any metadata change, which the
//   server puts on disk before answering, together with everything written before). The
//   verifier is the server's generation: a new incarnation gets every kept write again
//   before any other request (Recovering's rejoin: once, however many requests find the
//   new incarnation at the same time), so nothing acknowledged is lost with a crash.
// - Exactly once. A create, mkdir, unlink, rmdir or rename that was resent after its
//   server died may have taken effect before the death. vfs makes one change at a time
//   per mounted file system (lock()), so no one else touched that name meanwhile: the
//   errno a resend meets (EEXIST after a create, ENOENT after an unlink) is the first
//   attempt's success. Lookups and reads change nothing and run beside them, unlocked.
// - Held inodes. The files vfs holds open are held again in a new incarnation.
// - Names of directories (Linux's dcache, for directories only): a lookup that finds a
//   directory is remembered, so a walk through it asks nothing. The server answers each
//   lookup and stat with its namespace version, which moves with every mkdir, rmdir and
//   rename and every mount, whoever asked (mkctl mkfs goes straight to mfs): a version not
//   seen before empties the cache, and so do vfs's own rmdir, rename and mkdir and a new
//   incarnation. A lookup that raced an emptying is not remembered, and a walk that
//   used a cached name and saw the cache emptied is made again, every name asked
//   (lookup.ts). A read-only server's directories come and go by themselves (/proc):
//   nothing of it is cached.
// - Freed inodes. `frees` counts what may have freed an inode or taken its name away (an
//   unlink, rmdir or rename, a new incarnation): an inode number found by a walk that did
//   not hold the lock may name another file once it moved, so a change checks it. The last
//   release of an unlinked file frees its number too, but its name went with the unlink,
//   which counted: a walk that found the number began before that.
import { Fs, isDirMode, isMkError, MkError, type FileStat, type LayoutType, type ReqArgs } from "#abi";
import { Recovering, type Reply, type Sys } from "#libsys";

/** Directories remembered by name, per server. */
const MAX_CACHED_DIRS = 4096;
/** Unstable bytes kept per server before vfs commits them first. */
const MAX_UNSTABLE_BYTES = 8 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/** One inode held open in the server, shared by the descriptors that opened it while it lived. */
export interface Hold {
  readonly ino: number;
  count: number;
  /** The server lost it in a restart: its descriptors answer ESTALE. */
  stale: boolean;
}

interface UnstableWrite {
  ino: number;
  offset: number;
  data: Uint8Array;
}

export class FsServer {
  private readonly sys: Sys;
  readonly label: string;
  readonly readOnly: boolean;
  private readonly nameCache: boolean;
  private readonly server: Recovering;
  private readonly timeoutMs: number;
  /** Writes not yet committed, in the order they were made, all held by the generation requests go to. */
  private unstable: UnstableWrite[] = [];
  private unstableBytes = 0;
  /** Changes so far that may have freed an inode (see the file's comment). */
  frees = 0;
  /** Inodes held open in the server, each with how many vfs descriptors hold it. */
  private readonly held = new Map<number, Hold>();
  /** `${dir}/${name}` of a directory → its inode number (the name cache). */
  private readonly dirs = new Map<string, number>();
  /** Moves whenever the name cache is emptied: a lookup that saw it move is not remembered. */
  private names = 0;
  /** Changes to this file system, one at a time (vfs's per-mount lock). */
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn when every earlier holder of this file system's lock is done. */
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  constructor(sys: Sys, label: string, o: { readOnly?: boolean; waitMs?: number; timeoutMs?: number; nameCache?: boolean } = {}) {
    this.sys = sys;
    this.label = label;
    this.readOnly = o.readOnly ?? false;
    // A read-only server's directories come and go by themselves (/proc): never cached.
    this.nameCache = (o.nameCache ?? true) && !this.readOnly;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    // Deaths are not counted against a request (a storm of restarts is ridden out): the deadline bounds it.
    this.server = new Recovering(sys, label, { waitMs: o.waitMs ?? 60_000, maxRetries: 100_000 }, (gen) =>
      this.rejoin(`${label}#${gen}`, gen),
    );
  }

  get pendingBytes(): number {
    return this.unstableBytes;
  }

  private send<T extends LayoutType>(dst: string, type: T, args: ReqArgs<T>, data: Uint8Array): Promise<Reply<T>> {
    return this.sys.sendrec(dst, type, args, data, this.timeoutMs);
  }

  /**
   * A new incarnation is brought up to date (held inodes, unstable writes) before any other
   * request reaches it: Recovering runs this once per generation and holds every request
   * back until it is done. A write acknowledged by the dead incarnation is in `unstable`
   * already (its reply ran to the push before anything could learn of the death).
   */
  private async rejoin(dst: string, gen: number): Promise<void> {
    this.frees++;
    this.forgetDirs();
    for (const [ino, hold] of [...this.held]) {
      await this.sys.sendrec(dst, Fs.FS_GETNODE, { ino }, EMPTY, this.timeoutMs).catch((e) => {
        if (!isMkError(e, "ESTALE")) throw e;
        // Gone (an unlinked file still open, freed by the check at the new one's start): its
        // descriptors answer ESTALE until closed; a new file that takes the number is held anew.
        hold.stale = true;
        this.held.delete(ino);
        this.unstable = this.unstable.filter((w) => w.ino !== ino);
      });
    }
    const kept: UnstableWrite[] = [];
    for (const w of this.unstable) {
      try {
        await this.sys.sendrec(dst, Fs.FS_WRITE, { ino: w.ino, offset: w.offset }, w.data, this.timeoutMs);
        kept.push(w);
      } catch (e) {
        // The file was removed meanwhile (an unlinked open file the check freed): nothing to keep.
        if (!isMkError(e, "ESTALE")) throw e;
      }
    }
    this.unstable = kept;
    this.unstableBytes = kept.reduce((n, w) => n + w.data.length, 0);
    this.sys.log.warn(
      { server: this.label, generation: gen, writes: kept.length, bytes: this.unstableBytes, held: this.held.size },
      "%s restarted: sent its unstable writes again",
      this.label,
    );
  }

  /** An idempotent request (lookup, stat, read, truncate, setattr...): resent across restarts. */
  async call<T extends LayoutType>(type: T, args: ReqArgs<T>, data: Uint8Array = EMPTY): Promise<Reply<T>> {
    return this.server.call((dst) => this.send(dst, type, args, data));
  }

  /** The replying generation committed everything: what was kept for it is stable now. */
  private committed(): void {
    this.unstable = [];
    this.unstableBytes = 0;
  }

  /**
   * A metadata change, exactly once: `done` says whether an errno met by a resend means
   * the first attempt took effect (then there is no reply: undefined). The server commits
   * before answering.
   */
  async change<T extends LayoutType>(type: T, args: ReqArgs<T>, done: (errno: string) => boolean): Promise<Reply<T> | undefined> {
    let attempts = 0;
    try {
      const r = await this.server.call((dst) => {
        attempts++;
        return this.send(dst, type, args, EMPTY);
      });
      this.committed();
      return r;
    } catch (e) {
      if (attempts > 1 && e instanceof MkError && done(e.errno)) {
        this.committed();
        return undefined;
      }
      throw e;
    } finally {
      // Counted once it is done (or failed), while its lock is still held: a change that
      // takes the lock after this one sees the count moved if it walked before.
      if (type === Fs.FS_UNLINK || type === Fs.FS_RMDIR || type === Fs.FS_RENAME) this.frees++;
      // (An unlink takes no directory's name: mfs refuses it one. The number it frees goes to a new directory only by a mkdir.)
      if (type === Fs.FS_RMDIR || type === Fs.FS_RENAME || type === Fs.FS_MKDIR) this.forgetDirs();
    }
  }

  /** A name lookup; a directory found is remembered unless the cache was emptied while it was asked. */
  async lookup(args: ReqArgs<typeof Fs.FS_LOOKUP>): Promise<FileStat> {
    const names = this.names;
    const st = this.versioned((await this.call(Fs.FS_LOOKUP, args)).args);
    if (this.nameCache && this.names === names && isDirMode(st.mode)) {
      if (this.dirs.size >= MAX_CACHED_DIRS) this.dirs.delete(this.dirs.keys().next().value as string);
      this.dirs.set(`${args.dir}/${args.name}`, st.ino);
    }
    return st;
  }

  /** The directory `name` in directory `dir`, if the name cache knows it. */
  cachedDir(dir: number, name: string): number | undefined {
    return this.dirs.get(`${dir}/${name}`);
  }

  /** Empties the name cache (and makes lookups under way not remember what they find). */
  forgetDirs(): void {
    this.dirs.clear();
    this.names++;
  }

  async statIno(args: ReqArgs<typeof Fs.FS_STAT>): Promise<FileStat> {
    return this.versioned((await this.call(Fs.FS_STAT, args)).args);
  }

  /** The server's namespace version last seen. */
  private nsv?: number;

  /** A stat without the namespace version it came with; a version not seen before empties the name cache. */
  private versioned(st: FileStat): FileStat {
    const { nsv, ...rest } = st;
    if (nsv !== this.nsv) {
      this.nsv = nsv;
      this.forgetDirs();
    }
    return rest;
  }

  /** Moves whenever the name cache is emptied: a walk that used a cached name and sees it move is made again. */
  get namesEmptied(): number {
    return this.names;
  }

  /**
   * Writes at offset; returns where the bytes went: with a request id (an append), mfs
   * answers a repeat with the first write's offset and writes nothing again.
   */
  async write(ino: number, offset: number, data: Uint8Array, id: { rid?: string; digest?: string } = {}): Promise<number> {
    if (this.unstableBytes + data.length > MAX_UNSTABLE_BYTES) await this.commit();
    const r = (await this.call(Fs.FS_WRITE, { ino, offset, ...id }, data)).args;
    const at = r.offset ?? offset;
    // Kept until committed; a copy, since the body's buffer is the transport's.
    this.unstable.push({ ino, offset: at, data: data.slice() });
    this.unstableBytes += data.length;
    return at;
  }

  /** Every write so far on stable storage (FS_SYNC, NFS v3's COMMIT). */
  async commit(): Promise<void> {
    if (this.readOnly) return;
    await this.call(Fs.FS_SYNC, {});
    // The reply came from a generation that had every kept write (a new one gets them first) before it synced.
    this.committed();
  }

  /** Holds an inode open in the server for a new descriptor; the descriptor keeps the hold. */
  async hold(ino: number): Promise<Hold> {
    const h = this.held.get(ino);
    if (h) {
      h.count++;
      return h;
    }
    if (!this.readOnly) await this.call(Fs.FS_GETNODE, { ino });
    const fresh: Hold = { ino, count: 1, stale: false };
    this.held.set(ino, fresh);
    return fresh;
  }

  /** A hold the server made already (FS_CREATE with hold): counted as hold() counts, without asking again. */
  adopt(ino: number): Hold {
    const h = this.held.get(ino);
    if (h) {
      h.count++;
      return h;
    }
    const fresh: Hold = { ino, count: 1, stale: false };
    this.held.set(ino, fresh);
    return fresh;
  }

  /** A descriptor let go of its hold; the last one of a live hold releases the inode in the server. */
  async release(hold: Hold): Promise<void> {
    if (--hold.count > 0 || hold.stale) return;
    if (this.held.get(hold.ino) === hold) this.held.delete(hold.ino);
    if (this.readOnly) return;
    await this.call(Fs.FS_PUTNODE, { ino: hold.ino }).catch((e) => {
      // A new incarnation that never held it (it was freed at its check): nothing to release.
      if (!isMkError(e, "EINVAL") && !isMkError(e, "ESTALE")) throw e;
    });
  }
}
