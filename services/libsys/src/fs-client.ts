// The file-system API of user programs, shaped like Node's fs/promises where that fits:
// FsClient (readFile, writeFile, stat, readdir, mkdir, rm, rename...) and FileHandle
// (read, write, stat, truncate, sync, close), over the VFS protocol.
//
// The client rides out a restart of vfs itself: every request follows vfs across its
// incarnations (Recovering); a file handle keeps what it needs to be opened again (path,
// flags, its own position), and is reopened in the new vfs before the next request. A
// create, mkdir, unlink, rmdir or rename resent after vfs died may have taken effect the
// first time: the errno the resend meets (EEXIST, ENOENT) is then that success. This is
// exact when no other process changes the same name at the same moment.
import { MAX_DENTS, MAX_FS_IO, MkError, parseReplyArgs, Vfs, type Dirent, type FileStat, type FsStatfs } from "#abi";
import { Recovering } from "./recovery.ts";
import type { Sys } from "./sys.ts";
import type { RawReply } from "#base/transport.ts";

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECTORY = 0o200000;

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
export function openFlags(flags: string | number): number {
  if (typeof flags === "number") return flags;
  const f = FLAGS[flags];
  if (f === undefined) throw new MkError("EINVAL", `open flags ${JSON.stringify(flags)}: use r, r+, w, wx, w+, wx+, a, ax, a+ or ax+`);
  return f;
}

const S_IFMT = 0o170000;
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
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
}

export interface FsClientOptions {
  /** vfs's label. */
  vfs?: string;
  /** How long a request waits for a restarted vfs (or file-system server below it). */
  waitMs?: number;
  timeoutMs?: number;
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
  const ok = (e: unknown): e is Dirent => typeof e === "object" && e !== null && typeof (e as Dirent).name === "string"
    && Number.isInteger((e as Dirent).ino) && ["file", "dir", "other"].includes((e as Dirent).type);
  if (!Array.isArray(v) || v.length > MAX_DENTS || !v.every(ok)) throw new MkError("EIO", "vfs sent a malformed directory page");
  return v;
}

export class FsClient {
  private readonly sys: Sys;
  private readonly vfs: Recovering;
  private readonly timeoutMs: number;
  private readonly handles = new Set<FileHandle>();

  constructor(sys: Sys, o: FsClientOptions = {}) {
    this.sys = sys;
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.vfs = new Recovering(sys, o.vfs ?? "vfs", { waitMs: o.waitMs ?? 60_000, maxRetries: 20 }, (gen) => this.reopen(gen));
  }

  /** A new vfs knows no descriptor: each open handle is opened again there, by path. */
  private async reopen(gen: number): Promise<void> {
    const dst = `${this.vfs.label}#${gen}`;
    for (const h of this.handles) {
      const flags = h.flags & ~(O_CREAT | O_EXCL | O_TRUNC);
      try {
        const r = await this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: h.path, flags }, EMPTY, this.timeoutMs);
        h.fd = parseReplyArgs(Vfs.VFS_OPEN, r.args).fd;
      } catch (e) {
        // Renamed or removed since it was opened: this handle answers that errno from now on.
        if (!(e instanceof MkError) || e.errno === "EDEADSRCDST" || e.errno === "ENOTREADY" || e.errno === "ETIMEDOUT") throw e;
        h.lost = e;
      }
    }
  }

  /** @internal a request to vfs, resent across its restarts (args are built again for each send: a descriptor changes with vfs). */
  request(type: number, args: Record<string, unknown> | (() => Record<string, unknown>), data: Uint8Array = EMPTY): Promise<RawReply> {
    return this.vfs.call((dst) => this.sys.sendrec(dst, type, typeof args === "function" ? args() : args, data, this.timeoutMs));
  }

  /** A change that must happen once: a resend meeting `done`'s errno is the first attempt's success. */
  private async change(type: number, args: Record<string, unknown>, done: string): Promise<void> {
    let attempts = 0;
    try {
      await this.vfs.call((dst) => {
        attempts++;
        return this.sys.sendrec(dst, type, args, EMPTY, this.timeoutMs);
      });
    } catch (e) {
      if (!(attempts > 1 && e instanceof MkError && e.errno === done)) throw e;
    }
  }

  async open(path: string, flags: string | number = "r", mode = 0o644): Promise<FileHandle> {
    const f = openFlags(flags);
    const p = absolute(path);
    let attempts = 0;
    const r = await this.vfs.call((dst) => {
      attempts++;
      // A resent exclusive create that met its own file: open it without O_EXCL (see above).
      const again = attempts > 1 && f & O_EXCL ? f & ~(O_EXCL | O_TRUNC) : f;
      return this.sys.sendrec(dst, Vfs.VFS_OPEN, { path: p, flags: again, mode }, EMPTY, this.timeoutMs);
    });
    const h = new FileHandle(this, p, f, parseReplyArgs(Vfs.VFS_OPEN, r.args).fd);
    this.handles.add(h);
    return h;
  }

  /** @internal */
  forget(h: FileHandle): void {
    this.handles.delete(h);
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
    return new Stats(parseReplyArgs(Vfs.VFS_STAT, (await this.request(Vfs.VFS_STAT, { path: absolute(path) })).args));
  }

  /** Every entry but "." and "..", in directory order. */
  async readdir(path: string): Promise<string[]>;
  async readdir(path: string, o: { withFileTypes: true }): Promise<Dirent[]>;
  async readdir(path: string, o: { withFileTypes?: boolean } = {}): Promise<string[] | Dirent[]> {
    const all: Dirent[] = [];
    let cookie: number | undefined = 0;
    while (cookie !== undefined) {
      const r = await this.request(Vfs.VFS_GETDENTS, { path: absolute(path), cookie });
      const next: number | undefined = parseReplyArgs(Vfs.VFS_GETDENTS, r.args).next;
      if (next !== undefined && next <= cookie) throw new MkError("EIO", `vfs's directory pages went backwards (cookie ${cookie} then ${next})`);
      all.push(...direntsOf(r.data).filter((e) => e.name !== "." && e.name !== ".."));
      cookie = next;
    }
    return o.withFileTypes ? all : all.map((e) => e.name);
  }

  async mkdir(path: string, o: { recursive?: boolean; mode?: number } = {}): Promise<void> {
    const p = absolute(path);
    if (!o.recursive) return this.change(Vfs.VFS_MKDIR, { path: p, ...(o.mode !== undefined ? { mode: o.mode } : {}) }, "EEXIST");
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
    return this.change(Vfs.VFS_UNLINK, { path: absolute(path) }, "ENOENT");
  }

  rmdir(path: string): Promise<void> {
    return this.change(Vfs.VFS_RMDIR, { path: absolute(path) }, "ENOENT");
  }

  /** Node's rm: a file, or with recursive a whole tree; with force a missing path is no error. */
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
    for (const name of await this.readdir(p)) await this.rm(`${p.replace(/\/$/, "")}/${name}`, o);
    await this.rmdir(p);
  }

  rename(from: string, to: string): Promise<void> {
    return this.change(Vfs.VFS_RENAME, { from: absolute(from), to: absolute(to) }, "ENOENT");
  }

  async truncate(path: string, len = 0): Promise<void> {
    await this.request(Vfs.VFS_TRUNCATE, { path: absolute(path), size: len });
  }

  async statfs(path = "/"): Promise<FsStatfs & { dev: string; mount: string }> {
    return parseReplyArgs(Vfs.VFS_STATFS, (await this.request(Vfs.VFS_STATFS, { path: absolute(path) })).args);
  }

  async sync(): Promise<void> {
    await this.request(Vfs.VFS_SYNC, {});
  }

  async mounts(): Promise<{ path: string; dev: string }[]> {
    return parseReplyArgs(Vfs.VFS_MOUNTS, (await this.request(Vfs.VFS_MOUNTS, {})).args).mounts;
  }
}

/** An open file. Its position is kept here (reads and writes are positioned), so a new vfs loses nothing of it. */
export class FileHandle {
  private readonly client: FsClient;
  readonly path: string;
  readonly flags: number;
  /** The descriptor in the current vfs incarnation. */
  fd: number;
  /** Set when the file could not be opened again in a new vfs. */
  lost?: MkError;
  private position = 0;
  private closed = false;

  constructor(client: FsClient, path: string, flags: number, fd: number) {
    this.client = client;
    this.path = path;
    this.flags = flags;
    this.fd = fd;
  }

  private req(type: number, args: Record<string, unknown>, data?: Uint8Array): Promise<RawReply> {
    if (this.closed) throw new MkError("EBADF", `${this.path} is closed`);
    if (this.lost) throw this.lost;
    // The fd is read at each send: a resend after vfs restarted goes to the reopened descriptor.
    return this.client.request(type, () => ({ fd: this.fd, ...args }), data);
  }

  /** Reads up to length bytes at position (default: the handle's own, which moves). */
  async read(length = MAX_FS_IO, position?: number): Promise<Uint8Array> {
    const at = position ?? this.position;
    const r = await this.req(Vfs.VFS_PREAD, { count: Math.min(length, MAX_FS_IO), offset: at });
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

  /** Writes all of data at position (default: the handle's own, or the end with append). */
  async write(data: Uint8Array | string, position?: number): Promise<{ bytesWritten: number }> {
    const bytes = typeof data === "string" ? utf8.encode(data) : data;
    let done = 0;
    while (done < bytes.length) {
      const chunk = bytes.subarray(done, done + MAX_FS_IO);
      if (this.flags & O_APPEND && position === undefined) {
        // The end is vfs's to find. A resend after vfs itself died may append twice (README, limits).
        await this.req(Vfs.VFS_WRITE, {}, chunk);
      } else {
        await this.req(Vfs.VFS_PWRITE, { offset: (position ?? this.position) + done }, chunk);
      }
      done += chunk.length;
    }
    if (position === undefined) this.position += done;
    return { bytesWritten: done };
  }

  async stat(): Promise<Stats> {
    return new Stats(parseReplyArgs(Vfs.VFS_FSTAT, (await this.req(Vfs.VFS_FSTAT, {})).args));
  }

  async truncate(len = 0): Promise<void> {
    await this.req(Vfs.VFS_FTRUNCATE, { size: len });
  }

  /** The file's data on stable storage. */
  async sync(): Promise<void> {
    await this.req(Vfs.VFS_FSYNC, {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.client.forget(this);
    this.closed = true;
    if (this.lost) return;
    await this.client.request(Vfs.VFS_CLOSE, () => ({ fd: this.fd }));
  }
}
