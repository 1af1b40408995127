// vfs as a server: the POSIX calls of user programs (VFS_*), on paths and per-process
// descriptors, turned into inode requests to the file-system servers mounted under it
// (root on mfs, /proc on procfs). Requests run concurrently: walks and reads without a
// lock, changes one at a time per mounted file system (namespace.ts says which and why),
// so a stalled mfs does not hold up /proc, a deep walk holds up no one, and a resent
// change can still tell its own earlier success from someone else's (fs-server.ts).
import { Fs, MAX_DENTS, MkError, O, Vfs, type FileStat, type Reply } from "#abi";
import { followEvents, sysGetEndpoints, type Server, type Sys } from "#libsys";
import { Descriptors, readable, writable, type OpenFile } from "./descriptors.ts";
import { FsServer } from "./fs-server.ts";
import { isDir, MountTable, type Found, type Mounted } from "./lookup.ts";
import { about, Namespace } from "./namespace.ts";
import { parsePath } from "./path.ts";
import { fsRequestId, type FsRequestId } from "./request-id.ts";

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
  /** Remember directories by name (default true; fs-server.ts). */
  nameCache?: boolean;
}

/** Room kept in a getdents page for the mount points vfs adds to it. */
const MOUNT_ROOM = 16;

export class VfsServer {
  private readonly sys: Sys;
  private readonly fds = new Descriptors();
  private readonly ns: Namespace;
  private readonly commitIdleMs: number;
  private commitTimer?: { cancel(): void };

  constructor(sys: Sys, o: VfsOptions) {
    this.sys = sys;
    this.commitIdleMs = o.commitIdleMs ?? 1000;
    const nameCache = o.nameCache ?? true;
    const mounts = new MountTable(
      o.mounts.map((m) => ({ path: m.path, server: new FsServer(sys, m.dev, { readOnly: m.readOnly, nameCache }) })),
    );
    this.ns = new Namespace(mounts, (caller) => this.isDead(caller), sys.log);
  }

  private get mounts(): MountTable {
    return this.ns.mounts;
  }

  /** What a path names, for a call that changes nothing (stat, getdents, statfs). */
  private async onPath<T>(caller: string, path: string, fn: (found: Found) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.ns.walk(caller, parsePath(path).steps, path));
    } catch (e) {
      throw about(path, e);
    }
  }

  /**
   * Runs fn on a process's descriptor; a descriptor whose file the server lost answers
   * ESTALE. The descriptor holds its inode, so no lock is needed to reach it: `change`
   * takes its mount's lock for what changes the file (writes, truncate, fsync).
   */
  private async onFd<T>(process: string, fd: number, fn: (f: OpenFile) => Promise<T>, change = false): Promise<T> {
    const f = this.fds.get(process, fd);
    const run = async () => {
      if (change && (await this.ns.gone(process, "lock")))
        throw new MkError("EDEADSRCDST", `${process} died: its request was dropped before it was done`);
      if (f.hold.stale)
        throw new MkError("ESTALE", `descriptor ${fd}: its file was removed and then lost when ${f.server.label} restarted`);
      return fn(f);
    };
    return change ? f.server.lock(run) : run();
  }

  /**
   * A client's endpoint name can come back (a new process of the label with the same
   * generation) before its `started` event reaches vfs: the kernel's table says whether
   * the name is live now.
   */
  private async liveAgain(process: string): Promise<boolean> {
    const row = (await sysGetEndpoints(this.sys)).find((e) => e.endpoint === process);
    if (!row || row.state === "dead") {
      this.fds.confirmDead(process);
      return false;
    }
    this.fds.alive(process);
    return true;
  }

  /** Whether a caller is dead: the kernel's events said so, and its table agrees (asked once per name). */
  private async isDead(process: string): Promise<boolean> {
    if (!this.fds.isDead(process)) return false;
    return this.fds.isConfirmedDead(process) || !(await this.liveAgain(process));
  }

  private writableMount(m: Mounted, path: string): void {
    if (m.server.readOnly) throw new MkError("EROFS", `${path} is on ${m.path}, a read-only file system`);
  }

  /** Unstable writes are committed after a quiet spell, so they do not wait in vfs for long. */
  private scheduleCommit(): void {
    this.commitTimer?.cancel();
    this.commitTimer = this.sys.clock.setTimeout(() => {
      for (const m of this.mounts.list) {
        if (m.server.pendingBytes === 0) continue;
        m.server
          .lock(() => m.server.commit())
          .catch((e) => this.sys.log.warn({ err: e, server: m.server.label }, "background commit failed; kept for the next"));
      }
    }, this.commitIdleMs);
  }

  private async open(process: string, path: string, flags: number, mode: number, id: FsRequestId): Promise<{ fd: number; ino: number }> {
    const acc = flags & O.ACCMODE;
    if (acc === 3) throw new MkError("EINVAL", "open: flags name no access mode (O_RDONLY, O_WRONLY or O_RDWR)");
    if (flags & O.CREAT && flags & O.DIRECTORY) throw new MkError("EINVAL", "open: O_CREAT with O_DIRECTORY (as Linux since 6.4)");
    const p = parsePath(path);
    if (flags & O.CREAT && p.dirOnly) throw new MkError("EISDIR", `open: O_CREAT of ${path}, which names a directory`);
    // A descriptor is there to be had before anything changes (O_CREAT, O_TRUNC).
    this.fds.room(process);
    /** `held`: the server holds the file for vfs already (a create that held it). */
    const opened = async ({ m, st }: { m: Mounted; st: FileStat }, held = false): Promise<{ fd: number; ino: number }> => {
      const dir = isDir(st);
      if (dir && acc !== O.RDONLY) throw new MkError("EISDIR", `open: ${path} is a directory`);
      if (!dir && flags & O.DIRECTORY) throw new MkError("ENOTDIR", `open: ${path} is not a directory`);
      if (acc !== O.RDONLY) this.writableMount(m, path);
      if (flags & O.TRUNC && acc !== O.RDONLY && st.size > 0) await m.server.change(Fs.FS_TRUNC, { ino: st.ino, size: 0 }, () => false);
      const hold = held ? m.server.adopt(st.ino) : await m.server.hold(st.ino);
      try {
        if (await this.isDead(process)) throw new MkError("EDEADSRCDST", `${process} died while its open was under way`);
        return { fd: this.fds.add(process, { server: m.server, ino: st.ino, hold, flags, isDir: dir, offset: 0 }), ino: st.ino };
      } catch (e) {
        await m.server.release(hold);
        throw e;
      }
    };
    if (!(flags & O.CREAT) || !p.parent || this.mounts.isMountPoint(p.parts)) {
      if (flags & O.CREAT && flags & O.EXCL) throw new MkError("EEXIST", `open: ${path} exists`);
      return this.ns.atPath(process, path, opened);
    }
    return this.ns.atParent(process, path, "open", async ({ m, dir, name }) => {
      let st: FileStat | undefined;
      // On a read-only mount an existing name opens (a create would be EROFS): looked up first.
      // Elsewhere the create goes first, as most opens with O_CREAT make a new file: one
      // request to the server, and a lookup only when the name exists. An exclusive create
      // with a request id that meets the name is a repeat of one that succeeded (before a vfs
      // restart) only if mfs's reply cache says so: mfs answers it.
      if (m.server.readOnly) {
        try {
          st = await m.server.lookup({ dir, name });
        } catch (e) {
          if (!(e instanceof MkError && e.errno === "ENOENT")) throw e;
        }
        if (st && flags & O.EXCL) throw new MkError("EEXIST", `open: ${path} exists`);
      }
      if (!st) {
        this.writableMount(m, path);
        let r;
        try {
          // Created and held in one request; a resend that met EEXIST (its first attempt took) holds it apart.
          r = await m.server.change(Fs.FS_CREATE, { dir, name, mode: mode & 0o7777, ...id, hold: true }, (errno) => errno === "EEXIST");
        } catch (e) {
          if (!(e instanceof MkError && e.errno === "EEXIST") || flags & O.EXCL) throw e;
        }
        if (r) return opened({ m, st: r.args }, true);
        st = await m.server.lookup({ dir, name });
      }
      return opened({ m, st });
    });
  }

  private async read(f: OpenFile, offset: number, count: number): Promise<Reply> {
    if (!readable(f)) throw new MkError("EBADF", "the descriptor is not open for reading");
    if (f.isDir) throw new MkError("EISDIR", "read of a directory: use getdents");
    const r = await f.server.call(Fs.FS_READ, { ino: f.ino, offset, count });
    return { args: { count: r.data.length }, data: r.data };
  }

  /** Writes at offset; returns where the bytes went (see FsServer.write: an append with a request id). */
  private async write(f: OpenFile, offset: number, data: Uint8Array, id: FsRequestId = {}): Promise<number> {
    if (!writable(f)) throw new MkError("EBADF", "the descriptor is not open for writing");
    if (data.length === 0) return offset;
    const at = await f.server.write(f.ino, offset, data, id);
    this.scheduleCommit();
    return at;
  }

  private async close(f: OpenFile): Promise<void> {
    await f.server.lock(() => f.server.release(f.hold));
  }

  server(): Server {
    const source = (r: { source: string }) => r.source;
    const stat = (f: OpenFile) => f.server.statIno({ ino: f.ino });
    /** The user program's request id, the caller's own, passed on to the file system's reply cache (request-id.ts). */
    const rid = (r: { source: string; type: number; args: { rid?: string } }, ...what: (string | number | undefined)[]) =>
      fsRequestId(r.source, r.args.rid, r.type, what);
    return {
      // Many at once; changes one at a time per mounted file system (the mount's lock).
      concurrency: 16,
      // A request whose caller died while it waited in the queue is not run (namespace.ts).
      drop: (req) => this.ns.gone(req.source, "queue", req.type),
      initFresh: async () => {
        // A process that died has its descriptors dropped and its files released; an open
        // of it that finishes after its death is refused (Descriptors.isDead).
        await followEvents(this.sys, (ev) => {
          if (ev.kind === "started") this.fds.alive(ev.endpoint);
          if (ev.kind !== "dead") return;
          for (const f of this.fds.drop(ev.endpoint)) {
            this.close(f).catch((e) => this.sys.log.warn({ err: e, endpoint: ev.endpoint }, "releasing a dead process's file failed"));
          }
        });
      },
      shutdown: async () => {
        this.commitTimer?.cancel();
        for (const m of this.mounts.list)
          await m.server.lock(() => m.server.commit()).catch((e) => this.sys.log.warn({ err: e }, "commit at shutdown failed"));
      },
      handlers: {
        [Vfs.VFS_OPEN]: async (r) => {
          const id = rid(r, r.args.path, r.args.flags, r.args.mode);
          return {
            args: await this.fds.openOnce(source(r), r.args.rid, id.digest ?? "", () =>
              this.open(source(r), r.args.path, r.args.flags, r.args.mode ?? 0o644, id),
            ),
          };
        },
        [Vfs.VFS_CLOSE]: async (r) => (await this.close(this.fds.remove(source(r), r.args.fd)), {}),
        [Vfs.VFS_READ]: (r) =>
          this.onFd(source(r), r.args.fd, async (f) => {
            const rep = await this.read(f, f.offset, r.args.count);
            f.offset += rep.data!.length;
            return rep;
          }),
        [Vfs.VFS_PREAD]: (r) => this.onFd(source(r), r.args.fd, (f) => this.read(f, r.args.offset, r.args.count)),
        // An append finds the end and writes there holding the lock: no other append comes between.
        [Vfs.VFS_WRITE]: (r) =>
          this.onFd(
            source(r),
            r.args.fd,
            async (f) => {
              const append = (f.flags & O.APPEND) !== 0 && writable(f);
              if (append) f.offset = (await stat(f)).size;
              const at = await this.write(f, f.offset, r.data, append ? fsRequestId(r.source, r.args.rid, r.type, [f.ino], r.data) : {});
              f.offset = at + r.data.length;
              return { args: { count: r.data.length, offset: at } };
            },
            true,
          ),
        [Vfs.VFS_PWRITE]: (r) =>
          this.onFd(
            source(r),
            r.args.fd,
            async (f) => (await this.write(f, r.args.offset, r.data), { args: { count: r.data.length } }),
            true,
          ),
        [Vfs.VFS_LSEEK]: (r) =>
          this.onFd(source(r), r.args.fd, async (f) => {
            const base = r.args.whence === "set" ? 0 : r.args.whence === "cur" ? f.offset : (await stat(f)).size;
            const to = base + r.args.offset;
            if (to < 0 || !Number.isSafeInteger(to)) throw new MkError("EINVAL", `lseek to ${to}: before the start of the file`);
            f.offset = to;
            return { args: { offset: to } };
          }),
        [Vfs.VFS_FSYNC]: (r) => this.onFd(source(r), r.args.fd, async (f) => (await f.server.commit(), {}), true),
        [Vfs.VFS_FSTAT]: (r) => this.onFd(source(r), r.args.fd, async (f) => ({ args: { ...(await stat(f)), dev: f.server.label } })),
        [Vfs.VFS_FTRUNCATE]: (r) =>
          this.onFd(
            source(r),
            r.args.fd,
            async (f) => {
              if (!writable(f)) throw new MkError("EBADF", "ftruncate: the descriptor is not open for writing");
              await f.server.change(Fs.FS_TRUNC, { ino: f.ino, size: r.args.size }, () => false);
              return {};
            },
            true,
          ),
        [Vfs.VFS_STAT]: (r) => this.onPath(source(r), r.args.path, async ({ st }) => ({ args: st })),
        [Vfs.VFS_TRUNCATE]: (r) =>
          this.ns.atPath(source(r), r.args.path, async ({ m, st }) => {
            this.writableMount(m, r.args.path);
            if (isDir(st)) throw new MkError("EISDIR", `truncate: ${r.args.path} is a directory`);
            await m.server.change(Fs.FS_TRUNC, { ino: st.ino, size: r.args.size }, () => false);
            return {};
          }),
        [Vfs.VFS_UNLINK]: (r) =>
          this.ns.atParent(source(r), r.args.path, "unlink", async ({ m, dir, name }) => {
            this.writableMount(m, r.args.path);
            if (parsePath(r.args.path).dirOnly) {
              const st = await m.server.lookup({ dir, name });
              throw new MkError(isDir(st) ? "EISDIR" : "ENOTDIR", `unlink: ${r.args.path} ends in /`);
            }
            await m.server.change(Fs.FS_UNLINK, { dir, name, ...rid(r, r.args.path) }, (errno) => errno === "ENOENT");
            return {};
          }),
        [Vfs.VFS_MKDIR]: (r) => {
          const p = parsePath(r.args.path);
          if (!p.parent || this.mounts.isMountPoint(p.parts)) {
            // Names the root, a mount, or ends in "." or "..": it exists if the walk finds it.
            return this.onPath(source(r), r.args.path, async () => {
              throw new MkError("EEXIST", `mkdir: ${r.args.path} exists`);
            });
          }
          return this.ns.atParent(source(r), r.args.path, "mkdir", async ({ m, dir, name }) => {
            this.writableMount(m, r.args.path);
            await m.server.change(
              Fs.FS_MKDIR,
              { dir, name, mode: (r.args.mode ?? 0o755) & 0o7777, ...rid(r, r.args.path, r.args.mode) },
              (errno) => errno === "EEXIST",
            );
            return {};
          });
        },
        [Vfs.VFS_RMDIR]: (r) => {
          if (parsePath(r.args.path).endsInDot) throw new MkError("EINVAL", `rmdir: ${r.args.path} ends in . or ..`);
          return this.ns.atParent(source(r), r.args.path, "rmdir", async ({ m, dir, name }) => {
            this.writableMount(m, r.args.path);
            await m.server.change(Fs.FS_RMDIR, { dir, name, ...rid(r, r.args.path) }, (errno) => errno === "ENOENT");
            return {};
          });
        },
        [Vfs.VFS_RENAME]: (r) => {
          const from = parsePath(r.args.from);
          const to = parsePath(r.args.to);
          const both = async () => {
            const src = await this.ns.parentOf(source(r), from, r.args.from, "rename");
            const dst = await this.ns.parentOf(source(r), to, r.args.to, "rename");
            if (src.m !== dst.m) throw new MkError("EXDEV", `rename: ${r.args.from} is on ${src.m.path}, ${r.args.to} on ${dst.m.path}`);
            return { m: src.m, src, dst };
          };
          return this.ns
            .changing(source(r), both, async ({ src, dst }) => {
              this.writableMount(src.m, r.args.from);
              await src.m.server.change(
                Fs.FS_RENAME,
                { sdir: src.dir, sname: src.name, ddir: dst.dir, dname: dst.name, ...rid(r, r.args.from, r.args.to) },
                (errno) => errno === "ENOENT",
              );
              return {};
            })
            .catch((e) => {
              throw about(`${r.args.from} -> ${r.args.to}`, e);
            });
        },
        [Vfs.VFS_GETDENTS]: (r) =>
          this.onPath(source(r), r.args.path, async ({ m, st, parts }): Promise<Reply> => {
            if (!isDir(st)) throw new MkError("ENOTDIR", `getdents: ${r.args.path} is not a directory`);
            const max = Math.min(r.args.max ?? MAX_DENTS, MAX_DENTS - MOUNT_ROOM);
            if (max === 0) throw new MkError("EINVAL", "getdents: max is 0");
            const rep = await m.server.call(Fs.FS_GETDENTS, { ino: st.ino, cookie: r.args.cookie ?? 0, max });
            // The page passes through as the server wrote it (the client library checks each
            // entry), but for the mount points in this directory: the last page names them too.
            const { count, next } = rep.args;
            const below = next === undefined && count > 0 ? this.mounts.mountsIn(parts) : [];
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
          }),
        [Vfs.VFS_STATFS]: (r) =>
          this.onPath(source(r), r.args.path, async ({ m }) => {
            const rep = (await m.server.call(Fs.FS_STATFS, {})).args;
            return { args: { ...rep, dev: m.server.label, mount: m.path } };
          }),
        [Vfs.VFS_SYNC]: async () => {
          for (const m of this.mounts.list) await m.server.lock(() => m.server.commit());
          return {};
        },
        [Vfs.VFS_MOUNTS]: async () => ({
          args: { mounts: [...this.mounts.list].reverse().map((m) => ({ path: m.path, dev: m.server.label })) },
        }),
      },
    };
  }
}
