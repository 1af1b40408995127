// The file-system API of user programs, shaped like Node's fs/promises where that fits:
// FsClient (readFile, writeFile, stat, readdir, mkdir, rm, rename...) and FileHandle
// (read, write, stat, truncate, sync, close), over the VFS protocol.
//
// The client rides out a restart of vfs itself: every request follows vfs across its
// incarnations (Recovering); a file handle keeps what it needs to be opened again (path,
// flags, its own position) and the writes not yet committed (vfs held them too, and died
// with them), and is reopened in the new vfs, its writes sent again, before the next
// request. Writes are committed at fsync and at close (NFS's close-to-open). Each create,
// mkdir, unlink, rmdir, rename and append carries a request id, the same on every resend:
// mfs answers a repeat from its reply cache, so a change resent after vfs died is made
// once. Should mfs have died too (its cache is gone), the errno the resend meets (EEXIST,
// ENOENT) is taken as the first attempt's success, and an append first looks for its own
// bytes at the end of the file: exact when no other process changes the same name, or
// appends to the same file, at that moment.
import {
  isDirMode,
  isRegMode,
  MAX_DENTS,
  MAX_FS_IO,
  MkError,
  O,
  parseReplyArgs,
  Vfs,
  type Dirent,
  type FileStat,
  type FsStatfs,
  DirentShape,
  parseShape,
  type LayoutType,
  type ReqArgs,
} from "#abi";
import { randomBytes } from "node:crypto";
import { Recovering, type RecoveryOptions } from "./recovery.ts";
import type { Reply, Sys } from "./sys.ts";

// Linux's names for the ABI's open flags (#abi's O), for user programs.
export const O_RDONLY = O.RDONLY;
export const O_WRONLY = O.WRONLY;
export const O_RDWR = O.RDWR;
export const O_CREAT = O.CREAT;
export const O_EXCL = O.EXCL;
export const O_TRUNC = O.TRUNC;
export const O_APPEND = O.APPEND;
export const O_DIRECTORY = O.DIRECTORY;

const FLAGS: Record<string, number> = {
  r: O_RDONLY,
  "r+": O_RDWR,
  w: O_WRONLY | O_CREAT | O_TRUNC,
  wx: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL,
  "w+": O_RDWR | O_CREAT | O_TRUNC,
  "wx+": O_RDWR | O_CREAT | O_TRUNC | O_EXCL,
  a: O_WRONLY | O_CREAT | O_APPEND,
  ax: O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
  "a+": O_RDWR | O_CREAT | O_APPEND,
  "ax+": O_RDWR | O_CREAT | O_APPEND | O_EXCL,
};

/** Node's flag strings ("r", "w", "a+", ...) or Linux O_* bits. */
function openFlags(flags: string | number): number {
  if (typeof flags === "number") return flags;
  const f = FLAGS[flags];
  if (f === undefined) throw new MkError("EINVAL", `open flags ${JSON.stringify(flags)}: use r, r+, w, wx, w+, wx+, a, ax, a+ or ax+`);
  return f;
}

/** Uncommitted bytes one handle keeps before it commits them (fsync) itself. */
const MAX_UNSTABLE_BYTES = 8 * 1024 * 1024;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/** What stat answers, with Node's predicates. */
export class Stats {
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** The server holding the file (mfs, procfs). */
  readonly dev: string;
  /** Where it is mounted, when this is the root of a mounted file system ("/", "/proc"), however the path spelt it. */
  readonly mount?: string;
  constructor(s: FileStat) {
    this.ino = s.ino;
    this.mode = s.mode;
    this.nlink = s.nlinks;
    this.uid = s.uid;
    this.gid = s.gid;
    this.size = s.size;
    this.blocks = s.blocks;
    this.atimeMs = s.atime * 1000;
    this.mtimeMs = s.mtime * 1000;
    this.ctimeMs = s.ctime * 1000;
    this.dev = s.dev ?? "";
    if (s.mount !== undefined) this.mount = s.mount;
  }
  isFile(): boolean {
    return isRegMode(this.mode);
  }
  isDirectory(): boolean {
    return isDirMode(this.mode);
  }
}

export interface FsClientOptions {
  /** vfs's label. */
  vfs?: string;
  /** How long a request waits for a restarted vfs (or file-system server below it). */
  waitMs?: number;
  timeoutMs?: number;
  /** Told of each request sent again to a new vfs incarnation. */
  onRetry?: RecoveryOptions["onRetry"];
}

/** A request id: 16 random characters, the same on every resend of one change. */
function requestId(): string {
  return randomBytes(12).toString("base64url");
}

function generationOf(dst: string): number {
  return Number(dst.slice(dst.lastIndexOf("#") + 1));
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `/${path}`;
}

function direntsOf(data: Uint8Array): Dirent[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new MkError("EIO", "vfs sent a directory page that is not JSON");
  }
  if (!Array.isArray(v) || v.length > MAX_DENTS) throw new MkError("EIO", "vfs sent a malformed directory page");
  try {
    return v.map((e) => parseShape(DirentShape.fields, e));
  } catch (e) {
    throw new MkError("EIO", `vfs sent a malformed directory page: ${e instanceof Error ? e.message : e}`);
  }
}

export class FsClient {
  private readonly sys: Sys;
  private readonly vfs: Recovering;
  private readonly timeoutMs: number;

  constructor(sys: Sys, o: FsClientOptions = {}) {
    this.sys = sys;
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.vfs = new Recovering(sys, o.vfs ?? "vfs", {
      waitMs: o.waitMs ?? 60_000,
      maxRetries: 100_000,
      ...(o.onRetry ? { onRetry: o.onRetry } : {}),
    });
  }

  /**
   * A handle's descriptor belongs to the vfs incarnation that opened it. Before a request
   * goes to a newer one, the handle is opened again there by path (without O_CREAT, O_EXCL,
   * O_TRUNC) and its uncommitted writes are sent again: checked at each send, so a handle
   * opened while another request was finding the new vfs is never sent with a descriptor
   * number of the old one (which may name another file in the new one).
   */
  private async bringUp(h: FileHandle, dst: string, gen: number): Promise<void> {
    while (h.gen !== gen) {
      if (h.reopening) {
        await h.reopening.catch(() => undefined);
        continue;
      }
      const run = (async () => {
        const flags = h.flags & ~(O_CREAT | O_EXCL | O_TRUNC);
        try {
          // With an id of its own: a reopen resent after its answer was lost gets the same descriptor.
          const r = await this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: h.path, flags, rid: h.reopenId(gen) }, EMPTY, this.timeoutMs);
          const { fd, ino } = r.args;
          if (ino !== h.ino) {
            // The path names another file now (renamed over, or removed and made again).
            await this.sys.sendrec(dst, Vfs.VFS_CLOSE, { fd }, EMPTY, this.timeoutMs);
            throw new MkError("ESTALE", `${h.path} is another file (inode ${ino}, not ${h.ino}) since vfs restarted`);
          }
          for (const w of h.unstable) await this.sys.sendrec(dst, Vfs.VFS_PWRITE, { fd, offset: w.offset }, w.data, this.timeoutMs);
          h.fd = fd;
          h.gen = gen;
        } catch (e) {
          // Renamed or removed since it was opened: this handle answers ESTALE from now on, as
          // an NFS client's does; it never reaches another file.
          if (!(e instanceof MkError) || e.errno === "EDEADSRCDST" || e.errno === "ENOTREADY" || e.errno === "ETIMEDOUT") throw e;
          h.lost =
            e.errno === "ESTALE"
              ? e
              : new MkError("ESTALE", `${h.path} could not be opened again after vfs restarted: ${e.errno} ${e.message}`);
          h.gen = gen;
        }
      })();
      h.reopening = run;
      try {
        await run;
      } finally {
        h.reopening = undefined;
      }
    }
    if (h.lost) throw h.lost;
  }

  /** @internal a request about a handle's descriptor, to the vfs that has it open (see bringUp). */
  handleRequest<T extends LayoutType>(
    h: FileHandle,
    type: T,
    args: (fd: number) => ReqArgs<T>,
    data: Uint8Array = EMPTY,
  ): Promise<Reply<T>> {
    return this.vfs.call(async (dst) => {
      await this.bringUp(h, dst, generationOf(dst));
      // The descriptor is the one vfs knows now (it changes when vfs restarts): given here.
      return this.sys.sendrec(dst, type, args(h.fd), data, this.timeoutMs);
    });
  }

  /**
   * @internal closes a handle's descriptor; one that died with its vfs needs no closing. A
   * close resent after its answer was lost meets EBADF: the first did it.
   */
  async closeHandle(h: FileHandle): Promise<void> {
    let attempts = 0;
    await this.vfs.call(async (dst) => {
      if (generationOf(dst) !== h.gen) return { args: {}, data: EMPTY };
      try {
        attempts++;
        return await this.sys.sendrec(dst, Vfs.VFS_CLOSE, { fd: h.fd }, EMPTY, this.timeoutMs);
      } catch (e) {
        if (attempts > 1 && e instanceof MkError && e.errno === "EBADF") return { args: {}, data: EMPTY };
        throw e;
      }
    });
  }

  /** @internal a request to vfs (on paths), resent across its restarts. */
  request<T extends LayoutType>(type: T, args: ReqArgs<T>, data: Uint8Array = EMPTY): Promise<Reply<T>> {
    return this.vfs.call((dst) => this.sys.sendrec(dst, type, args, data, this.timeoutMs));
  }

  /** A change that must happen once: a request id for mfs's reply cache; a resend meeting `done`'s errno is the first attempt's success. */
  private async change<T extends LayoutType>(type: T, args: (rid: string) => ReqArgs<T>, done: string): Promise<void> {
    let attempts = 0;
    const rid = requestId();
    try {
      await this.vfs.call((dst) => {
        attempts++;
        // The request id mfs remembers, the same for every resend: added here.
        return this.sys.sendrec(dst, type, args(rid), EMPTY, this.timeoutMs);
      });
    } catch (e) {
      if (!(attempts > 1 && e instanceof MkError && e.errno === done)) throw e;
    }
  }

  async open(path: string, flags: string | number = "r", mode = 0o644): Promise<FileHandle> {
    const f = openFlags(flags);
    const p = absolute(path);
    let attempts = 0;
    let gen = 0;
    // Every open has an id: vfs answers a resend (its answer lost with a kernel-core that
    // restarted) with the descriptor the first made, and mfs a resent create with its inode.
    const rid = { rid: requestId() };
    const r = await this.vfs.call(async (dst) => {
      attempts++;
      gen = generationOf(dst);
      try {
        return await this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: p, flags: f, mode, ...rid }, EMPTY, this.timeoutMs);
      } catch (e) {
        // A resent exclusive create that mfs no longer remembers (it restarted too) and that
        // meets a file: taken as its own (see above), opened without O_EXCL and O_TRUNC.
        if (!(attempts > 1 && f & O_EXCL && e instanceof MkError && e.errno === "EEXIST")) throw e;
        return this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: p, flags: f & ~(O_EXCL | O_TRUNC), mode }, EMPTY, this.timeoutMs);
      }
    });
    const { fd, ino } = r.args;
    return new FileHandle(this, p, f, fd, gen, ino);
  }

  /**
   * @internal An append, exactly once: resent after vfs died, it first looks whether its
   * bytes are already the file's last ones (the first attempt landed), as the handle
   * expected them at `end` or later.
   */
  async append(h: FileHandle, chunk: Uint8Array, end: number): Promise<number> {
    let attempts = 0;
    const rid = requestId();
    const r = await this.vfs.call(async (dst) => {
      await this.bringUp(h, dst, generationOf(dst));
      if (++attempts > 1) {
        const size = parseReplyArgs(
          Vfs.VFS_FSTAT,
          (await this.sys.sendrec(dst, Vfs.VFS_FSTAT, { fd: h.fd }, EMPTY, this.timeoutMs)).args,
        ).size;
        if (size >= end + chunk.length) {
          // Read through a descriptor of its own: the handle's may be write-only.
          const r = await this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: h.path, flags: O_RDONLY }, EMPTY, this.timeoutMs);
          const { fd, ino } = r.args;
          try {
            const tail =
              ino === h.ino
                ? await this.sys.sendrec(
                    dst,
                    Vfs.VFS_PREAD,
                    { fd, offset: size - chunk.length, count: chunk.length },
                    EMPTY,
                    this.timeoutMs,
                  )
                : undefined;
            if (tail && Buffer.compare(Buffer.from(tail.data), Buffer.from(chunk)) === 0) {
              // It landed, through the vfs that died, which kept it as unstable: this vfs must
              // keep it too (mfs may restart before it is committed), so the same bytes go
              // again, at the same offset, through this one.
              await this.sys.sendrec(dst, Vfs.VFS_PWRITE, { fd: h.fd, offset: size - chunk.length }, chunk, this.timeoutMs);
              return { args: { count: chunk.length, offset: size - chunk.length }, data: EMPTY };
            }
          } finally {
            await this.sys.sendrec(dst, Vfs.VFS_CLOSE, { fd }, EMPTY, this.timeoutMs);
          }
        }
      }
      return this.sys.sendrec(dst, Vfs.VFS_WRITE, { fd: h.fd, rid }, chunk, this.timeoutMs);
    });
    return r.args.offset;
  }

  async readFile(path: string): Promise<Buffer> {
    const h = await this.open(path, "r");
    try {
      return await h.readFile();
    } finally {
      await h.close();
    }
  }

  async writeFile(path: string, data: Uint8Array | string, o: { flag?: string; mode?: number } = {}): Promise<void> {
    const h = await this.open(path, o.flag ?? "w", o.mode);
    try {
      await h.write(typeof data === "string" ? utf8.encode(data) : data);
    } finally {
      await h.close();
    }
  }

  appendFile(path: string, data: Uint8Array | string): Promise<void> {
    return this.writeFile(path, data, { flag: "a" });
  }

  async stat(path: string): Promise<Stats> {
    return new Stats((await this.request(Vfs.VFS_STAT, { path: absolute(path) })).args);
  }

  /** Every entry but "." and "..", in directory order. */
  async readdir(path: string): Promise<string[]>;
  async readdir(path: string, o: { withFileTypes: true }): Promise<Dirent[]>;
  async readdir(path: string, o: { withFileTypes?: boolean } = {}): Promise<string[] | Dirent[]> {
    const all: Dirent[] = [];
    let cookie: number | undefined = 0;
    while (cookie !== undefined) {
      const at: number = cookie;
      const r = await this.request(Vfs.VFS_GETDENTS, { path: absolute(path), cookie: at });
      const next: number | undefined = r.args.next;
      if (next !== undefined && next <= cookie)
        throw new MkError("EIO", `vfs's directory pages went backwards (cookie ${cookie} then ${next})`);
      all.push(...direntsOf(r.data).filter((e) => e.name !== "." && e.name !== ".."));
      cookie = next;
    }
    return o.withFileTypes ? all : all.map((e) => e.name);
  }

  async mkdir(path: string, o: { recursive?: boolean; mode?: number } = {}): Promise<void> {
    const p = absolute(path);
    if (!o.recursive)
      return this.change(Vfs.VFS_MKDIR, (rid) => ({ path: p, rid, ...(o.mode !== undefined ? { mode: o.mode } : {}) }), "EEXIST");
    let at = "";
    for (const name of p.split("/").filter(Boolean)) {
      at += `/${name}`;
      try {
        await this.request(Vfs.VFS_MKDIR, { path: at, ...(o.mode !== undefined ? { mode: o.mode } : {}) });
      } catch (e) {
        if (!(e instanceof MkError && e.errno === "EEXIST")) throw e;
        if (!(await this.stat(at)).isDirectory()) throw new MkError("ENOTDIR", `mkdir -p: ${at} exists and is not a directory`);
      }
    }
  }

  unlink(path: string): Promise<void> {
    return this.change(Vfs.VFS_UNLINK, (rid) => ({ path: absolute(path), rid }), "ENOENT");
  }

  rmdir(path: string): Promise<void> {
    return this.change(Vfs.VFS_RMDIR, (rid) => ({ path: absolute(path), rid }), "ENOENT");
  }

  /**
   * Node's rm: a file, or with recursive a whole tree; with force a missing path is no error.
   * The root of a mounted file system ("/", "/proc", "/a/..") is never removed, nor anything
   * in it: EBUSY before anything is touched, decided by what vfs says the path names.
   */
  async rm(path: string, o: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    const p = absolute(path);
    let st: Stats;
    try {
      st = await this.stat(p);
    } catch (e) {
      if (o.force && e instanceof MkError && e.errno === "ENOENT") return;
      throw e;
    }
    if (!st.isDirectory()) return this.unlink(p);
    if (!o.recursive) throw new MkError("EISDIR", `rm: ${p} is a directory (recursive: true removes it)`);
    if (st.mount !== undefined) throw new MkError("EBUSY", `rm: ${p} is the root of the file system mounted on ${st.mount}`);
    for (const name of await this.readdir(p)) await this.rm(`${p.replace(/\/$/, "")}/${name}`, o);
    await this.rmdir(p);
  }

  rename(from: string, to: string): Promise<void> {
    return this.change(Vfs.VFS_RENAME, (rid) => ({ from: absolute(from), to: absolute(to), rid }), "ENOENT");
  }

  async truncate(path: string, len = 0): Promise<void> {
    await this.request(Vfs.VFS_TRUNCATE, { path: absolute(path), size: len });
  }

  async statfs(path = "/"): Promise<FsStatfs & { dev: string; mount: string }> {
    return (await this.request(Vfs.VFS_STATFS, { path: absolute(path) })).args;
  }

  async sync(): Promise<void> {
    await this.request(Vfs.VFS_SYNC, {});
  }

  async mounts(): Promise<{ path: string; dev: string }[]> {
    return (await this.request(Vfs.VFS_MOUNTS, {})).args.mounts;
  }
}

/** An open file. Its position is kept here (reads and writes are positioned), so a new vfs loses nothing of it. */
export class FileHandle {
  private readonly client: FsClient;
  readonly path: string;
  readonly flags: number;
  /** The file (its inode number): what a reopen after vfs restarted must find again. */
  readonly ino: number;
  /** The descriptor, in the vfs incarnation `gen`. */
  fd: number;
  gen: number;
  /** @internal the reopen in a new vfs under way. */
  reopening?: Promise<void>;
  /** Set when the file could not be opened again in a new vfs. */
  lost?: MkError;
  /** The request id of the reopen in vfs incarnation `gen` (the same on each resend of it). */
  private reopen?: { gen: number; rid: string };
  /** Writes since the last commit (fsync, close): sent again to a new vfs. */
  readonly unstable: { offset: number; data: Uint8Array }[] = [];
  private unstableBytes = 0;
  private position = 0;
  /** With O_APPEND: where the file ended after this handle's last append (a resend's check). */
  private end = 0;
  private closed = false;

  constructor(client: FsClient, path: string, flags: number, fd: number, gen: number, ino: number) {
    this.client = client;
    this.path = path;
    this.flags = flags;
    this.fd = fd;
    this.gen = gen;
    this.ino = ino;
  }

  /** @internal the id of the reopen in vfs generation gen: one per generation, so a resend is the same request. */
  reopenId(gen: number): string {
    if (this.reopen?.gen !== gen) this.reopen = { gen, rid: requestId() };
    return this.reopen.rid;
  }

  private req<T extends LayoutType>(type: T, args: (fd: number) => ReqArgs<T>, data?: Uint8Array): Promise<Reply<T>> {
    if (this.closed) throw new MkError("EBADF", `${this.path} is closed`);
    if (this.lost) throw this.lost;
    return this.client.handleRequest(this, type, args, data);
  }

  /** Reads up to length bytes at position (default: the handle's own, which moves). */
  async read(length = MAX_FS_IO, position?: number): Promise<Uint8Array> {
    const at = position ?? this.position;
    const r = await this.req(Vfs.VFS_PREAD, (fd) => ({ fd, count: Math.min(length, MAX_FS_IO), offset: at }));
    if (position === undefined) this.position += r.data.length;
    return r.data;
  }

  async readFile(): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for (let at = 0; ; ) {
      const chunk = await this.read(MAX_FS_IO, at);
      if (chunk.length === 0) break;
      parts.push(chunk);
      at += chunk.length;
    }
    return Buffer.concat(parts);
  }

  /**
   * Writes all of data at position (default: the handle's own, or the end with append). As
   * with Node's FileHandle, wait for one write before the next on the same handle.
   */
  async write(data: Uint8Array | string, position?: number): Promise<{ bytesWritten: number }> {
    const bytes = typeof data === "string" ? utf8.encode(data) : data;
    let done = 0;
    while (done < bytes.length) {
      const chunk = bytes.subarray(done, done + MAX_FS_IO);
      let offset: number;
      if (this.flags & O_APPEND && position === undefined) {
        // The end is vfs's to find (another process may have appended meanwhile).
        if (this.closed) throw new MkError("EBADF", `${this.path} is closed`);
        if (this.lost) throw this.lost;
        offset = await this.client.append(this, chunk, this.end);
        this.end = offset + chunk.length;
      } else {
        offset = position !== undefined ? position + done : this.position;
        await this.req(Vfs.VFS_PWRITE, (fd) => ({ fd, offset }), chunk);
      }
      this.unstable.push({ offset, data: chunk.slice() });
      this.unstableBytes += chunk.length;
      done += chunk.length;
      // Moved chunk by chunk: a write that fails part way leaves the position after what was written.
      if (position === undefined) this.position += chunk.length;
      if (this.unstableBytes >= MAX_UNSTABLE_BYTES) await this.sync();
    }
    return { bytesWritten: done };
  }

  async stat(): Promise<Stats> {
    return new Stats((await this.req(Vfs.VFS_FSTAT, (fd) => ({ fd }))).args);
  }

  async truncate(len = 0): Promise<void> {
    await this.req(Vfs.VFS_FTRUNCATE, (fd) => ({ fd, size: len }));
  }

  /** The file's data on stable storage. */
  async sync(): Promise<void> {
    await this.req(Vfs.VFS_FSYNC, (fd) => ({ fd }));
    this.unstable.length = 0;
    this.unstableBytes = 0;
  }

  /** Commits what was written (close-to-open), then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.unstable.length > 0 && !this.lost) await this.sync();
    this.closed = true;
    if (this.lost) return;
    await this.client.closeHandle(this);
  }
}
