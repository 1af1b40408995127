// FsClient, the caller's side of "nothing is lost" for files: across a vfs restart a change
// is resent with the same request id and its errno taken for the first attempt's success,
// a handle is opened again by path (never created, truncated or made exclusive again) and
// its uncommitted writes sent again, and a handle whose path now names another file answers
// ESTALE. The real FsClient, Recovering and SysImpl, over a fake transport whose "kernel"
// is a real EndpointTable on the manual clock and whose vfs is a small in-memory one that
// can die (losing its descriptors and its uncommitted writes, as the real vfs does).
import { describe, expect, it } from "vitest";
import { DeathCause, MkError, O, SysCall, Vfs, type KernelEvent, type LayoutType } from "#abi";
import { ManualClock } from "#base/clock.ts";
import type { RawReply, Transport } from "#base/transport.ts";
import { EndpointTable } from "../../kernel-core/src/table/endpoint-table.ts";
import { createLogger, FsClient, SysImpl } from "#libsys";

const log = createLogger("test");
log.level = "silent";
const EMPTY = new Uint8Array(0);
const text = (b: Uint8Array) => Buffer.from(b).toString();

/** What the fake vfs received: the incarnation, the message type and its arguments. */
interface Seen {
  gen: number;
  type: number;
  args: Record<string, unknown>;
}

/**
 * A vfs with mfs behind it: names and committed bytes survive its death (they are mfs's);
 * descriptors and uncommitted writes do not. `loseAnswer(type)`: the next such request is
 * done, then vfs dies before answering (rs starts the next one at once).
 */
class FakeVfs {
  readonly seen: Seen[] = [];
  private readonly names = new Map<string, number>();
  private readonly inodes = new Map<number, Buffer>();
  private nextIno = 10;
  private fds = new Map<number, number>();
  private dirty = new Map<number, Buffer>();
  private nextFd = 0;
  private lose?: number;
  gen = 0;
  private readonly table: EndpointTable;

  constructor(table: EndpointTable) {
    this.table = table;
    this.start();
  }

  /** A file committed to disk, as another program left it. */
  put(path: string, content: string): number {
    const ino = this.nextIno++;
    this.names.set(path, ino);
    this.inodes.set(ino, Buffer.from(content));
    return ino;
  }

  committed(path: string): string | undefined {
    const ino = this.names.get(path);
    return ino === undefined ? undefined : this.inodes.get(ino)?.toString();
  }

  openFds(): number {
    return this.fds.size;
  }

  loseAnswer(type: number): void {
    this.lose = type;
  }

  /** vfs dies (what it had not committed is gone) and rs starts the next. */
  crash(): void {
    const e = this.table.get("vfs");
    if (e) this.table.markDead(e, DeathCause.DISCONNECT, "killed");
    this.start();
  }

  private start(): void {
    this.gen++;
    this.fds = new Map();
    this.dirty = new Map();
    this.nextFd = this.gen * 100; // another incarnation's numbers: an old descriptor names nothing here
    const e = this.table.incarnate("vfs", { placement: "user", pid: 1000 + this.gen, host: "h", conn: `vfs${this.gen}` }).entry;
    this.table.ready(e);
  }

  handle(gen: number, type: number, args: Record<string, unknown>, data: Uint8Array): RawReply {
    this.seen.push({ gen, type, args });
    const reply = this.apply(type, args, data);
    if (this.lose === type) {
      this.lose = undefined;
      this.crash();
      throw new MkError("EDEADSRCDST", `vfs#${gen} died before it answered`);
    }
    return reply;
  }

  private content(ino: number): Buffer {
    return this.dirty.get(ino) ?? this.inodes.get(ino) ?? Buffer.alloc(0);
  }

  private fd(args: Record<string, unknown>): number {
    const ino = this.fds.get(Number(args.fd));
    if (ino === undefined) throw new MkError("EBADF", `no descriptor ${args.fd} in vfs#${this.gen}`);
    return ino;
  }

  private apply(type: number, args: Record<string, unknown>, data: Uint8Array): RawReply {
    const ok = (a: object = {}, d: Uint8Array = EMPTY): RawReply => ({ args: a, data: d });
    switch (type) {
      case Vfs.VFS_OPEN: {
        const path = String(args.path);
        const flags = Number(args.flags);
        let ino = this.names.get(path);
        if (ino !== undefined && flags & O.EXCL) throw new MkError("EEXIST", `${path} exists`);
        if (ino === undefined) {
          if (!(flags & O.CREAT)) throw new MkError("ENOENT", `no ${path}`);
          ino = this.put(path, "");
        }
        if (flags & O.TRUNC) this.dirty.set(ino, Buffer.alloc(0));
        const fd = this.nextFd++;
        this.fds.set(fd, ino);
        return ok({ fd, ino });
      }
      case Vfs.VFS_PREAD: {
        const at = Number(args.offset);
        const bytes = this.content(this.fd(args)).subarray(at, at + Number(args.count));
        return ok({ count: bytes.length }, bytes);
      }
      case Vfs.VFS_PWRITE: {
        const ino = this.fd(args);
        const at = Number(args.offset);
        const old = this.content(ino);
        const next = Buffer.alloc(Math.max(old.length, at + data.length));
        old.copy(next);
        Buffer.from(data).copy(next, at);
        this.dirty.set(ino, next);
        return ok({ count: data.length });
      }
      case Vfs.VFS_FSYNC: {
        const ino = this.fd(args);
        this.inodes.set(ino, this.content(ino));
        this.dirty.delete(ino);
        return ok();
      }
      case Vfs.VFS_CLOSE:
        this.fd(args);
        this.fds.delete(Number(args.fd));
        return ok();
      case Vfs.VFS_UNLINK: {
        const path = String(args.path);
        if (!this.names.delete(path)) throw new MkError("ENOENT", `no ${path}`);
        return ok();
      }
      default:
        throw new MkError("ENOSYS", `the fake vfs does not do ${type}`);
    }
  }

  /** Replaces path by a new file (a rename over it by someone else). */
  replace(path: string, content: string): void {
    this.put(path, content);
  }
}

/** The transport: the kernel's getinfo answered from a real endpoint table, vfs#g from the fake while g is its live incarnation. */
function fakeTransport(table: EndpointTable, vfs: FakeVfs): Transport {
  const record = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? { ...v } : {});
  return {
    label: "client",
    placement: "user",
    connection: () => "c1",
    async sendrec(dst: string, type: number, args: object | undefined, data: Uint8Array): Promise<RawReply> {
      const a = record(args);
      if (dst === "kernel") {
        if (type !== SysCall.SYS_GETINFO || a.what !== "endpoint") throw new MkError("ENOSYS", `the fake kernel does not do ${type}`);
        const e = await table.waitReady(String(a.label), Number(a.after ?? 0), Number(a.waitMs ?? 0));
        const row = table.list().find((r) => r.endpoint === e.key);
        return { args: { endpoints: row ? [row] : [] }, data: EMPTY };
      }
      const [label, g] = dst.split("#");
      const cur = table.get(label);
      if (label !== "vfs" || !cur || cur.state === "dead" || cur.generation !== Number(g))
        throw new MkError("EDEADSRCDST", `${dst} is not a live incarnation`);
      return vfs.handle(Number(g), type, a, data);
    },
    send: async () => undefined,
    notify: async () => undefined,
    events: async (_onEvent: (ev: KernelEvent) => void) => ({ stop: () => undefined }),
    listen: async () => undefined,
    close: async () => undefined,
    panic: (err: unknown): never => {
      throw err;
    },
  };
}

function setup() {
  const clock = new ManualClock();
  const table = new EndpointTable(clock);
  const vfs = new FakeVfs(table);
  const sys = new SysImpl(fakeTransport(table, vfs), log, clock);
  const fs = new FsClient(sys, { waitMs: 5000, timeoutMs: 5000 });
  const sent = (type: LayoutType, gen?: number) => vfs.seen.filter((s) => s.type === type && (gen === undefined || s.gen === gen));
  return { vfs, fs, sent };
}

describe("fs client", () => {
  it("fs client - an unlink whose answer died with vfs is resent once, with the same request id, and the next vfs's ENOENT counts as done", async () => {
    const { vfs, fs, sent } = setup();
    vfs.put("/a", "x");
    vfs.loseAnswer(Vfs.VFS_UNLINK);
    await fs.unlink("/a");
    const tries = sent(Vfs.VFS_UNLINK);
    expect(tries.map((t) => t.gen)).toEqual([1, 2]);
    expect(tries[1].args.rid).toBe(tries[0].args.rid);
    expect(typeof tries[0].args.rid).toBe("string");
    expect(vfs.committed("/a")).toBeUndefined();
    // The first attempt's ENOENT is the caller's: nothing was removed.
    await expect(fs.unlink("/never")).rejects.toMatchObject({ errno: "ENOENT" });
  });

  it("fs client - writes not yet committed go again to the next vfs, through the file opened again by path without O_CREAT, O_EXCL or O_TRUNC", async () => {
    const { vfs, fs, sent } = setup();
    const h = await fs.open("/f", "w+");
    await h.write("hello ");
    await h.write("world");
    vfs.crash(); // vfs#1 dies with both writes uncommitted
    expect(text(await h.read(64, 0))).toBe("hello world");
    const reopen = sent(Vfs.VFS_OPEN, 2);
    expect(reopen).toHaveLength(1);
    expect(reopen[0].args.path).toBe("/f");
    expect(Number(reopen[0].args.flags) & (O.CREAT | O.EXCL | O.TRUNC)).toBe(0);
    expect(sent(Vfs.VFS_PWRITE, 2).map((w) => w.args.offset)).toEqual([0, 6]);
    for (const w of sent(Vfs.VFS_PWRITE, 2)) expect(w.args.fd).toBe(200); // vfs#2's descriptor, never vfs#1's (100)
    await h.close();
    expect(vfs.committed("/f")).toBe("hello world");
    expect(vfs.openFds()).toBe(0);
  });

  it("fs client - a handle whose path names another file after vfs restarted answers ESTALE, never touches that file, and closes what it opened to look", async () => {
    const { vfs, fs, sent } = setup();
    vfs.put("/g", "old");
    const h = await fs.open("/g", "r+");
    vfs.crash();
    vfs.replace("/g", "new");
    await expect(h.read(16, 0)).rejects.toMatchObject({ errno: "ESTALE" });
    await expect(h.write("x", 0)).rejects.toMatchObject({ errno: "ESTALE" });
    expect(vfs.committed("/g")).toBe("new");
    expect(sent(Vfs.VFS_PREAD, 2)).toHaveLength(0);
    expect(sent(Vfs.VFS_PWRITE, 2)).toHaveLength(0);
    expect(vfs.openFds()).toBe(0);
  });

  it("fs client - a handle whose vfs died with nothing uncommitted closes without a word to the next vfs", async () => {
    const { vfs, fs } = setup();
    vfs.put("/h", "data");
    const h = await fs.open("/h", "r");
    expect(text(await h.read(16))).toBe("data");
    vfs.crash();
    const before = vfs.seen.length;
    await h.close();
    expect(vfs.seen.slice(before)).toEqual([]);
    await expect(h.read(1)).rejects.toMatchObject({ errno: "EBADF" });
  });
});
