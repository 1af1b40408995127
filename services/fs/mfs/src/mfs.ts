// mfs as a server: the FS protocol (vfs -> mfs, MINIX's REQ_*) on a MINIX v3 file system
// on the ATA disk. Requests run one at a time (concurrency 1), so the file system below
// never sees two operations interleave.
//
// What is stable when: a metadata change (create, mkdir, unlink, rmdir, rename, truncate,
// setattr) is on disk before its reply, as NFS v3 asks of a server; a write is unstable
// (in the buffer cache) until FS_SYNC, and both answer with this incarnation's generation
// as the write verifier: vfs keeps its unstable writes and sends them again when the
// verifier changes. A file system not unmounted cleanly (this server crashed) is checked
// and repaired at mount, before the first request is served.
import { createHash } from "node:crypto";
import { Fs, MAX_FS_IO, MkError, parseReplyArgs, type Reply } from "#abi";
import { sysGetEndpoints, type Server, type Sys } from "#libsys";
import { BdevBlockDevice } from "./bdev-device.ts";
import type { BlockDevice } from "./block-device.ts";
import { fsck } from "./fsck.ts";
import { mkfs } from "./mkfs.ts";
import { MinixFs, type InodeStat } from "./minixfs.ts";
import { ReplyCache } from "./reply-cache.ts";

export interface MfsOptions {
  /** The block driver holding the file system (on the disk area the privilege table grants mfs). */
  driver: string;
  /** Make a file system on a blank disk (all zeros where the superblock goes) at first mount. */
  formatBlank: boolean;
  blockSize: 1024 | 2048 | 4096;
  /** Buffer cache size, in blocks. */
  cacheBlocks: number;
}

const SUPERBLOCK_LBA = 2; // byte 1024
/** How long starting waits for the mount (rs's start deadline is 10 s). */
const MOUNT_WAIT_MS = 6000;

/** What a request with an id but no digest (from a sender other than vfs) asked: its arguments and body. */
function digestOf(args: object, data: Uint8Array): string {
  const named = Object.entries(args)
    .filter(([k]) => k !== "rid" && k !== "digest")
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash("sha256").update(JSON.stringify(named)).update(data).digest("base64url");
}

export class Mfs {
  private readonly sys: Sys;
  private readonly o: MfsOptions;
  private dev?: BlockDevice;
  private fs?: MinixFs;
  private mounting?: Promise<MinixFs>;
  /**
   * Inodes held open (FS_GETNODE without its FS_PUTNODE yet), by the incarnation holding
   * them: when a newer incarnation of that label asks anything, the older one is dead and
   * its holds are released (it holds again, in the newer one, what is still open).
   */
  private readonly held = new Map<string, Set<number>>();
  /** Changes already made, by request id: a repeat is answered, not made again. */
  private readonly replies = new ReplyCache();
  /**
   * The namespace version (FS_LOOKUP and FS_STAT answer it): moves with each change that may
   * take a directory's name away or give a number to a new directory, and with each mount
   * (mkctl mkfs and fsck remount), so vfs knows when the directory names it caches are old.
   */
  private nsv = 0;

  private stat(s: InodeStat): Reply {
    return { args: { ...s, nsv: this.nsv } };
  }

  /** A change that moves the namespace version (before it is made: a lookup after it must not see the old version). */
  private renaming<T>(op: (fs: MinixFs) => Promise<T>): Promise<T> {
    this.nsv = (this.nsv + 1) >>> 0;
    return this.changed(op);
  }

  private get heldCount(): number {
    let n = 0;
    for (const m of this.held.values()) n += m.size;
    return n;
  }

  /** Releases the holds of incarnations older than `source` of the same label. */
  private async supersede(source: string): Promise<void> {
    const [label, gen] = source.split("#");
    for (const holder of [...this.held.keys()]) {
      const [l, g] = holder.split("#");
      if (l !== label || Number(g) >= Number(gen)) continue;
      await this.releaseAll(holder);
    }
  }

  private async releaseAll(holder: string): Promise<void> {
    const inodes = this.held.get(holder);
    if (!inodes) return;
    this.held.delete(holder);
    const fs = await this.mounted();
    for (const ino of inodes) await fs.release(ino).catch(() => undefined);
    await fs.sync();
    this.sys.log.info({ holder, inodes: inodes.size }, "released what %s held: it no longer serves", holder);
  }

  /** Holds an inode open for `source` (FS_GETNODE, or FS_CREATE with hold). */
  private async hold(source: string, ino: number): Promise<void> {
    await this.supersede(source);
    const fs = await this.mounted();
    await fs.stat(ino); // ESTALE for a freed inode
    // A caller holds an inode once (vfs counts its own descriptors): a second GETNODE
    // is a resend (after a timeout, or a rejoin tried again part way), not a second hold.
    let mine = this.held.get(source);
    if (mine?.has(ino)) return;
    fs.open(ino);
    if (!mine) this.held.set(source, (mine = new Set()));
    mine.add(ino);
  }

  constructor(sys: Sys, o: MfsOptions) {
    this.sys = sys;
    this.o = o;
  }

  private async device(): Promise<BlockDevice> {
    this.dev ??= await BdevBlockDevice.open(this.sys, this.o.driver);
    return this.dev;
  }

  /** The mounted file system; mounted (and checked, after a crash) on first need. */
  mounted(): Promise<MinixFs> {
    if (this.fs) return Promise.resolve(this.fs);
    this.mounting ??= this.mount().finally(() => (this.mounting = undefined));
    return this.mounting;
  }

  private async mount(): Promise<MinixFs> {
    const dev = await this.device();
    const log = this.sys.log;
    if (this.o.formatBlank && (await dev.read(SUPERBLOCK_LBA, 2)).every((b) => b === 0)) {
      await mkfs(dev, { blockSize: this.o.blockSize, now: this.sys.clock.now() });
      log.info({ blockSize: this.o.blockSize, sectors: dev.sectors }, "blank disk: made a MINIX v3 file system");
    }
    const opts = { clock: this.sys.clock, cacheBlocks: this.o.cacheBlocks };
    let fs = await MinixFs.mount(dev, opts);
    if (!fs.wasClean) {
      const started = this.sys.clock.now();
      const report = await fsck(dev, { repair: true });
      log.warn(
        {
          problems: report.problems.length,
          repaired: report.repaired,
          ms: this.sys.clock.now() - started,
          first: report.problems.slice(0, 5),
        },
        "not unmounted cleanly: checked, %d problem(s) repaired",
        report.repaired,
      );
      fs = await MinixFs.mount(dev, opts);
    }
    this.fs = fs;
    this.nsv = (this.nsv + 1) >>> 0;
    return fs;
  }

  /** A metadata change: on disk before the reply. */
  private async changed<T>(op: (fs: MinixFs) => Promise<T>): Promise<T> {
    const fs = await this.mounted();
    const r = await op(fs);
    await fs.sync();
    return r;
  }

  /** Unmounted (clean) so that the whole disk can be checked or made again; refused while vfs holds files open. */
  private async unmounted(what: string): Promise<BlockDevice> {
    // Holds of incarnations that are no longer serving (a vfs that died) do not count.
    const live = new Set((await sysGetEndpoints(this.sys)).filter((e) => e.state === "ready").map((e) => e.endpoint));
    for (const holder of [...this.held.keys()]) if (!live.has(holder)) await this.releaseAll(holder);
    if (this.heldCount > 0) throw new MkError("EBUSY", `${what}: ${this.heldCount} file(s) are open; close them first`);
    if (this.mounting) await this.mounting.catch(() => undefined);
    await this.fs?.unmount();
    this.fs = undefined;
    return this.device();
  }

  server(): Server {
    const once = (
      r: { source: string; type: number; args: { rid?: string; digest?: string }; data: Uint8Array },
      run: () => Promise<Reply>,
    ) => this.replies.once(r.source.split("#")[0], r.args.rid, r.type, r.args.rid ? (r.args.digest ?? digestOf(r.args, r.data)) : "", run);
    return {
      concurrency: 1,
      initFresh: async () => {
        // Mounting (and the check after a crash) starts now; in user placement it is part of
        // starting, so that ready means serving, for at most MOUNT_WAIT_MS (a disk that cannot be
        // reached or read must not keep mfs from serving its errors). Inside kernel-core it runs
        // on after start: the driver it needs may be started only once the kernel serves.
        const mount = this.mounted().catch((e) => this.sys.log.error({ err: e }, "mount failed; each request will try again"));
        if (this.sys.transport.placement === "user") await Promise.race([mount, this.sys.clock.sleep(MOUNT_WAIT_MS)]);
      },
      shutdown: async () => {
        await this.fs?.unmount();
      },
      handlers: {
        [Fs.FS_LOOKUP]: async (r) => this.stat(await (await this.mounted()).lookup(r.args.dir, r.args.name)),
        [Fs.FS_STAT]: async (r) => this.stat(await (await this.mounted()).stat(r.args.ino)),
        [Fs.FS_CREATE]: async (r) => {
          const rep = await once(r, async () => this.stat(await this.changed((fs) => fs.create(r.args.dir, r.args.name, r.args.mode))));
          // Held after the reply cache, so that a repeat answered from it (a new vfs resending)
          // holds for its sender too: the file it names must still be the one created there.
          if (r.args.hold !== true) return rep;
          const { ino } = parseReplyArgs(Fs.FS_CREATE, rep.args);
          const now = await (await this.mounted()).lookup(r.args.dir, r.args.name).catch(() => undefined);
          if (now?.ino !== ino) throw new MkError("ESTALE", `inode ${ino} was created, then removed before it could be held`);
          await this.hold(r.source, ino);
          return rep;
        },
        [Fs.FS_MKDIR]: (r) => once(r, async () => this.stat(await this.renaming((fs) => fs.mkdir(r.args.dir, r.args.name, r.args.mode)))),
        [Fs.FS_UNLINK]: (r) => once(r, async () => (await this.changed((fs) => fs.unlink(r.args.dir, r.args.name)), {})),
        [Fs.FS_RMDIR]: (r) => once(r, async () => (await this.renaming((fs) => fs.rmdir(r.args.dir, r.args.name)), {})),
        [Fs.FS_RENAME]: (r) =>
          once(r, async () => (await this.renaming((fs) => fs.rename(r.args.sdir, r.args.sname, r.args.ddir, r.args.dname)), {})),
        [Fs.FS_TRUNC]: async (r) => (await this.changed((fs) => fs.truncate(r.args.ino, r.args.size)), {}),
        [Fs.FS_SETATTR]: async (r) => {
          const { ino, ...attrs } = r.args;
          return this.stat(await this.changed((fs) => fs.setattr(ino, attrs)));
        },
        [Fs.FS_READ]: async (r): Promise<Reply> => {
          const data = await (await this.mounted()).read(r.args.ino, r.args.offset, r.args.count);
          return { args: { count: data.length }, data };
        },
        [Fs.FS_WRITE]: (r) =>
          once(r, async (): Promise<Reply> => {
            if (r.data.length > MAX_FS_IO)
              throw new MkError("EBADREQUEST", `a write carries at most ${MAX_FS_IO} bytes, got ${r.data.length}`);
            const size = await (await this.mounted()).write(r.args.ino, r.args.offset, r.data);
            return { args: { size, verifier: this.sys.generation, offset: r.args.offset } };
          }),
        [Fs.FS_SYNC]: async () => {
          await (await this.mounted()).sync();
          return { args: { verifier: this.sys.generation } };
        },
        [Fs.FS_GETDENTS]: async (r): Promise<Reply> => {
          const page = await (await this.mounted()).readdir(r.args.ino, r.args.cookie, r.args.max);
          return {
            args: { count: page.entries.length, ...(page.next !== undefined ? { next: page.next } : {}) },
            data: new TextEncoder().encode(JSON.stringify(page.entries)),
          };
        },
        [Fs.FS_GETNODE]: async (r) => (await this.hold(r.source, r.args.ino), {}),
        [Fs.FS_PUTNODE]: async (r) => {
          const mine = this.held.get(r.source);
          if (!mine?.delete(r.args.ino)) throw new MkError("EINVAL", `inode ${r.args.ino} is not held open by ${r.source}`);
          if (mine.size === 0) this.held.delete(r.source);
          // Only the last release of an unlinked file changes the disk (it frees the inode).
          const fs = await this.mounted();
          const unlinked = (await fs.stat(r.args.ino)).nlinks === 0;
          await fs.release(r.args.ino);
          if (unlinked) await fs.sync();
          return {};
        },
        [Fs.FS_STATFS]: async () => ({ args: { ...(await (await this.mounted()).statfs()) } }),
        [Fs.FS_FSCK]: async (r): Promise<Reply> => {
          const report = await fsck(await this.unmounted("fsck"), { repair: r.args.repair === 1 });
          return {
            args: { clean: report.clean ? 1 : 0, problems: report.problems.length, repaired: report.repaired },
            data: new TextEncoder().encode(JSON.stringify(report)),
          };
        },
        [Fs.FS_MKFS]: async (r) => {
          const dev = await this.unmounted("mkfs");
          const blockSize = r.args.blockSize ? (Number(r.args.blockSize) as 1024 | 2048 | 4096) : this.o.blockSize;
          await mkfs(dev, { blockSize, ...(r.args.inodes ? { inodes: r.args.inodes } : {}), now: this.sys.clock.now() });
          this.sys.log.warn({ blockSize }, "made a new, empty file system at mkctl's request");
          return { args: { ...(await (await this.mounted()).statfs()) } };
        },
      },
    };
  }
}
