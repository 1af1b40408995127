// vfs as a server: the POSIX calls of user programs (VFS_*), on paths and per-process
// descriptors, turned into inode requests to the file-system servers mounted under it
// (root on mfs). Requests run one at a time (concurrency 1): a resent change can then
// tell its own earlier success from someone else's (fs-server.ts).
import { Fs, MAX_DENTS, MkError, parseReplyArgs, Vfs, type FileStat, type Reply } from "#abi";
import { followEvents, type Server, type Sys } from "#libsys";
import { Descriptors, O, readable, writable, type OpenFile } from "./descriptors.ts";
import { FsServer } from "./fs-server.ts";
import { components, joinPath } from "./path.ts";

export interface Mount {
  /** Where it is mounted, e.g. "/" or "/proc". */
  path: string;
  /** The server's label. */
  dev: string;
  readOnly?: boolean;
}

export interface VfsOptions {
  mounts: Mount[];
  /** Unstable writes are committed when none came for this long. */
  commitIdleMs?: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const ROOT_INO = 1;

const isDir = (s: FileStat) => (s.mode & S_IFMT) === S_IFDIR;

interface Mounted {
  at: string[];
  path: string;
  server: FsServer;
}

export class VfsServer {
  private readonly sys: Sys;
  private readonly mounts: Mounted[];
  private readonly fds = new Descriptors();
  private readonly commitIdleMs: number;
  private commitTimer?: { cancel(): void };

  constructor(sys: Sys, o: VfsOptions) {
    this.sys = sys;
    this.commitIdleMs = o.commitIdleMs ?? 1000;
    // Deepest first: a path belongs to the deepest mount above it.
    this.mounts = o.mounts
      .map((m) => ({ at: components(m.path), path: m.path, server: new FsServer(sys, m.dev, { readOnly: m.readOnly }) }))
      .sort((a, b) => b.at.length - a.at.length);
    if (!this.mounts.some((m) => m.at.length === 0)) throw new MkError("EINVAL", "vfs needs a file system mounted on /");
  }

  private mountOf(parts: string[]): { m: Mounted; rest: string[] } {
    const m = this.mounts.find((x) => x.at.every((c, i) => parts[i] === c))!;
    return { m, rest: parts.slice(m.at.length) };
  }

  /** The names of the mount points directly in a directory ("proc" in "/"). */
  private mountsIn(path: string): string[] {
    const parts = components(path);
    return this.mounts.filter((m) => m.at.length === parts.length + 1 && parts.every((c, i) => m.at[i] === c)).map((m) => m.at[parts.length]);
  }

  private isMountPoint(parts: string[]): boolean {
    return this.mounts.some((m) => m.at.length === parts.length && m.at.every((c, i) => parts[i] === c));
  }

  /** The inode a path names. */
  private async resolve(path: string): Promise<{ m: Mounted; st: FileStat }> {
    const { m, rest } = this.mountOf(components(path));
    let st = await m.server.stat(Fs.FS_STAT, { ino: ROOT_INO });
    for (const name of rest) {
      if (!isDir(st)) throw new MkError("ENOTDIR", `a component before ${JSON.stringify(name)} in ${path} is not a directory`);
      st = await m.server.stat(Fs.FS_LOOKUP, { dir: st.ino, name });
    }
    return { m, st: { ...st, dev: m.server.label } };
  }

  /** The directory a path's last name is in, and that name. The root and mount points have none (EBUSY). */
  private async parent(path: string, what: string): Promise<{ m: Mounted; dir: number; name: string }> {
    const parts = components(path);
    if (parts.length === 0 || this.isMountPoint(parts)) throw new MkError("EBUSY", `${what}: ${path} is ${parts.length === 0 ? "the root" : "a mount point"}`);
    const name = parts[parts.length - 1];
    const { m, st } = await this.resolve(joinPath(parts.slice(0, -1)));
    if (!isDir(st)) throw new MkError("ENOTDIR", `${what}: the parent of ${path} is not a directory`);
    return { m, dir: st.ino, name };
  }

  private writableMount(m: Mounted, path: string): void {
    if (m.server.readOnly) throw new MkError("EROFS", `${path} is on ${m.path}, a read-only file system`);
  }

  /** Unstable writes are committed after a quiet spell, so they do not wait in vfs for long. */
  private scheduleCommit(): void {
    this.commitTimer?.cancel();
    this.commitTimer = this.sys.clock.setTimeout(() => {
      for (const m of this.mounts) {
        if (m.server.pendingBytes > 0) m.server.commit().catch((e) => this.sys.log.warn({ err: e, server: m.server.label }, "background commit failed; kept for the next"));
      }
    }, this.commitIdleMs);
  }

  private async open(process: string, path: string, flags: number, mode: number): Promise<number> {
    const acc = flags & O.ACCMODE;
    if (acc === 3) throw new MkError("EINVAL", "open: flags name no access mode (O_RDONLY, O_WRONLY or O_RDWR)");
    let found: { m: Mounted; st: FileStat };
    if (flags & O.CREAT) {
      const p = await this.parent(path, "open").catch(async (e) => {
        // O_CREAT on the root or a mount point: it exists; EEXIST with O_EXCL.
        if (!(e instanceof MkError && e.errno === "EBUSY")) throw e;
        return undefined;
      });
      if (!p) {
        if (flags & O.EXCL) throw new MkError("EEXIST", `open: ${path} exists`);
        found = await this.resolve(path);
      } else {
        let st: FileStat | undefined;
        try {
          st = await p.m.server.stat(Fs.FS_LOOKUP, { dir: p.dir, name: p.name });
        } catch (e) {
          if (!(e instanceof MkError && e.errno === "ENOENT")) throw e;
        }
        if (st && flags & O.EXCL) throw new MkError("EEXIST", `open: ${path} exists`);
        if (!st) {
          this.writableMount(p.m, path);
          const r = await p.m.server.change(Fs.FS_CREATE, { dir: p.dir, name: p.name, mode: mode & 0o7777 }, (errno) => errno === "EEXIST");
          st = r ? (parseReplyArgs(Fs.FS_CREATE, r.args) as FileStat) : await p.m.server.stat(Fs.FS_LOOKUP, { dir: p.dir, name: p.name });
        }
        found = { m: p.m, st };
      }
    } else {
      found = await this.resolve(path);
    }
    const { m, st } = found;
    const dir = isDir(st);
    if (dir && acc !== O.RDONLY) throw new MkError("EISDIR", `open: ${path} is a directory`);
    if (!dir && flags & O.DIRECTORY) throw new MkError("ENOTDIR", `open: ${path} is not a directory`);
    if (acc !== O.RDONLY) this.writableMount(m, path);
    if (flags & O.TRUNC && acc !== O.RDONLY && st.size > 0) await m.server.change(Fs.FS_TRUNC, { ino: st.ino, size: 0 }, () => false);
    await m.server.hold(st.ino);
    try {
      return this.fds.add(process, { server: m.server, ino: st.ino, flags, isDir: dir, offset: 0 });
    } catch (e) {
      await m.server.release(st.ino);
      throw e;
    }
  }

  private async read(f: OpenFile, offset: number, count: number): Promise<Reply> {
    if (!readable(f)) throw new MkError("EBADF", "the descriptor is not open for reading");
    if (f.isDir) throw new MkError("EISDIR", "read of a directory: use getdents");
    const r = await f.server.call(Fs.FS_READ, { ino: f.ino, offset, count });
    return { args: { count: r.data.length }, data: r.data };
  }

  private async write(f: OpenFile, offset: number, data: Uint8Array): Promise<number> {
    if (!writable(f)) throw new MkError("EBADF", "the descriptor is not open for writing");
    if (data.length === 0) return 0;
    await f.server.write(f.ino, offset, data);
    this.scheduleCommit();
    return data.length;
  }

  private async close(f: OpenFile): Promise<void> {
    await f.server.release(f.ino);
  }

  server(): Server {
    const source = (r: { source: string }) => r.source;
    return {
      concurrency: 1,
      initFresh: async () => {
        // A process that died has its descriptors dropped and its files released.
        await followEvents(this.sys, (ev) => {
          if (ev.kind !== "dead") return;
          for (const f of this.fds.drop(ev.endpoint)) {
            this.close(f).catch((e) => this.sys.log.warn({ err: e, endpoint: ev.endpoint }, "releasing a dead process's file failed"));
          }
        });
      },
      shutdown: async () => {
        this.commitTimer?.cancel();
        for (const m of this.mounts) await m.server.commit().catch((e) => this.sys.log.warn({ err: e }, "commit at shutdown failed"));
      },
      handlers: {
        [Vfs.VFS_OPEN]: async (r) => ({ args: { fd: await this.open(source(r), r.args.path, r.args.flags, r.args.mode ?? 0o644) } }),
        [Vfs.VFS_CLOSE]: async (r) => (await this.close(this.fds.remove(source(r), r.args.fd)), {}),
        [Vfs.VFS_READ]: async (r) => {
          const f = this.fds.get(source(r), r.args.fd);
          const rep = await this.read(f, f.offset, r.args.count);
          f.offset += rep.data!.length;
          return rep;
        },
        [Vfs.VFS_PREAD]: async (r) => this.read(this.fds.get(source(r), r.args.fd), r.args.offset, r.args.count),
        [Vfs.VFS_WRITE]: async (r) => {
          const f = this.fds.get(source(r), r.args.fd);
          if (f.flags & O.APPEND && writable(f)) f.offset = (await f.server.stat(Fs.FS_STAT, { ino: f.ino })).size;
          const at = f.offset;
          const n = await this.write(f, at, r.data);
          f.offset += n;
          return { args: { count: n, offset: at } };
        },
        [Vfs.VFS_PWRITE]: async (r) => ({ args: { count: await this.write(this.fds.get(source(r), r.args.fd), r.args.offset, r.data) } }),
        [Vfs.VFS_LSEEK]: async (r) => {
          const f = this.fds.get(source(r), r.args.fd);
          const base = r.args.whence === "set" ? 0 : r.args.whence === "cur" ? f.offset : (await f.server.stat(Fs.FS_STAT, { ino: f.ino })).size;
          const to = base + r.args.offset;
          if (to < 0 || !Number.isSafeInteger(to)) throw new MkError("EINVAL", `lseek to ${to}: before the start of the file`);
          f.offset = to;
          return { args: { offset: to } };
        },
        [Vfs.VFS_FSYNC]: async (r) => (await this.fds.get(source(r), r.args.fd).server.commit(), {}),
        [Vfs.VFS_FSTAT]: async (r) => {
          const f = this.fds.get(source(r), r.args.fd);
          return { args: { ...(await f.server.stat(Fs.FS_STAT, { ino: f.ino })), dev: f.server.label } };
        },
        [Vfs.VFS_FTRUNCATE]: async (r) => {
          const f = this.fds.get(source(r), r.args.fd);
          if (!writable(f)) throw new MkError("EBADF", "ftruncate: the descriptor is not open for writing");
          await f.server.change(Fs.FS_TRUNC, { ino: f.ino, size: r.args.size }, () => false);
          return {};
        },
        [Vfs.VFS_STAT]: async (r) => ({ args: (await this.resolve(r.args.path)).st }),
        [Vfs.VFS_TRUNCATE]: async (r) => {
          const { m, st } = await this.resolve(r.args.path);
          this.writableMount(m, r.args.path);
          if (isDir(st)) throw new MkError("EISDIR", `truncate: ${r.args.path} is a directory`);
          await m.server.change(Fs.FS_TRUNC, { ino: st.ino, size: r.args.size }, () => false);
          return {};
        },
        [Vfs.VFS_UNLINK]: async (r) => {
          const p = await this.parent(r.args.path, "unlink");
          this.writableMount(p.m, r.args.path);
          await p.m.server.change(Fs.FS_UNLINK, { dir: p.dir, name: p.name }, (errno) => errno === "ENOENT");
          return {};
        },
        [Vfs.VFS_MKDIR]: async (r) => {
          const p = await this.parent(r.args.path, "mkdir").catch((e) => {
            throw e instanceof MkError && e.errno === "EBUSY" ? new MkError("EEXIST", `mkdir: ${r.args.path} exists`) : e;
          });
          this.writableMount(p.m, r.args.path);
          await p.m.server.change(Fs.FS_MKDIR, { dir: p.dir, name: p.name, mode: (r.args.mode ?? 0o755) & 0o7777 }, (errno) => errno === "EEXIST");
          return {};
        },
        [Vfs.VFS_RMDIR]: async (r) => {
          const p = await this.parent(r.args.path, "rmdir");
          this.writableMount(p.m, r.args.path);
          await p.m.server.change(Fs.FS_RMDIR, { dir: p.dir, name: p.name }, (errno) => errno === "ENOENT");
          return {};
        },
        [Vfs.VFS_RENAME]: async (r) => {
          const from = await this.parent(r.args.from, "rename");
          const to = await this.parent(r.args.to, "rename");
          if (from.m !== to.m) throw new MkError("EXDEV", `rename: ${r.args.from} is on ${from.m.path}, ${r.args.to} on ${to.m.path}`);
          this.writableMount(from.m, r.args.from);
          await from.m.server.change(Fs.FS_RENAME, { sdir: from.dir, sname: from.name, ddir: to.dir, dname: to.name }, (errno) => errno === "ENOENT");
          return {};
        },
        [Vfs.VFS_GETDENTS]: async (r): Promise<Reply> => {
          const { m, st } = await this.resolve(r.args.path);
          if (!isDir(st)) throw new MkError("ENOTDIR", `getdents: ${r.args.path} is not a directory`);
          const rep = await m.server.call(Fs.FS_GETDENTS, { ino: st.ino, cookie: r.args.cookie ?? 0, max: r.args.max ?? MAX_DENTS });
          // The page passes through as the server wrote it (the client library checks each
          // entry), but for the mount points in this directory: its last page names them too.
          const { count, next } = parseReplyArgs(Fs.FS_GETDENTS, rep.args);
          const below = next === undefined ? this.mountsIn(r.args.path) : [];
          if (below.length === 0) return { args: { count, ...(next !== undefined ? { next } : {}) }, data: rep.data };
          let page: unknown;
          try {
            page = JSON.parse(new TextDecoder().decode(rep.data));
          } catch {
            page = undefined;
          }
          if (!Array.isArray(page)) throw new MkError("EIO", `${m.server.label} sent a directory page that is not a list`);
          const names = new Set(page.map((e: { name?: unknown }) => e?.name));
          const extra = below.filter((name) => !names.has(name)).map((name) => ({ name, ino: 0, type: "dir" }));
          return { args: { count: page.length + extra.length }, data: new TextEncoder().encode(JSON.stringify([...page, ...extra])) };
        },
        [Vfs.VFS_STATFS]: async (r) => {
          const { m } = this.mountOf(components(r.args.path));
          const rep = parseReplyArgs(Fs.FS_STATFS, (await m.server.call(Fs.FS_STATFS, {})).args);
          return { args: { ...rep, dev: m.server.label, mount: m.path } };
        },
        [Vfs.VFS_SYNC]: async () => {
          for (const m of this.mounts) await m.server.commit();
          return {};
        },
        [Vfs.VFS_MOUNTS]: async () => ({ args: { mounts: [...this.mounts].reverse().map((m) => ({ path: m.path, dev: m.server.label })) } }),
      },
    };
  }
}
