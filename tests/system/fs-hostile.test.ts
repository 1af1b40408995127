// The file systems attacked as a hostile user program and a hostile neighbour would: a
// descriptor must never reach another file after a restart, a failed call changes nothing,
// a dead process leaks nothing, a stalled mfs does not stall /proc, request ids are each
// caller's own, the root is never removed however a path spells it, and neither a deep
// tree nor a dead client's queued walks hold up anyone else.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Common, parseReplyArgs, PATH_DEPTH_MAX, Vfs, type MkError } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { FsClient, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY, O_RDONLY, type RunningService } from "#libsys";
import { pidAlive } from "../../services/boot/src/boot.ts";
import { bootTestSystem, restarted as restartedHelper, runMkctl, type TestSystem } from "../helpers/system.ts";

const USERS = `
  fsuser:
    ipc: [vfs, mfs]
    calls: [getinfo]
  fsuser2:
    ipc: [vfs]
    calls: [getinfo]
  fsuser3:
    ipc: [vfs]
    calls: [getinfo]
  fsdeep:
    ipc: [vfs]
    calls: [getinfo]
  fsdeep2:
    ipc: [vfs]
    calls: [getinfo]
  fschaos:
    ipc: [vfs, mfs]
    calls: [getinfo]
    chaos: true
`;

let ts: TestSystem;
let user: RunningService;
let fs: FsClient;

beforeAll(async () => {
  // vfs asks every name of every walk (no cache of directory names): the worst case, which
  // a client renaming in a loop could force, is what the deep-walk attacks here measure.
  ts = await bootTestSystem({ services: USERS, sectors: 65536, env: { MK_VFS_NAME_CACHE: "0" } });
  user = await ts.client("fsuser");
  fs = new FsClient(user.sys);
}, 60_000);
afterAll(async () => {
  await ts?.down();
});

const mkctl = (...args: string[]) => runMkctl(ts, ...args);

const restarted = (label: string, kill: () => void) => restartedHelper(user, label, kill);

/**
 * A tree one level deeper than the most names vfs walks in one path, built as an attacker
 * would, by renames (each moves the tree under a new top directory, so no path is ever
 * long): the deepest directory is /deep/names[0]/.../names[PATH_DEPTH_MAX]. Built once, by
 * whichever test asks first.
 */
let deepBuilt: Promise<string[]> | undefined;
function deepTree(): Promise<string[]> {
  deepBuilt ??= (async () => {
    await fs.mkdir("/deep");
    const names: string[] = [];
    for (let i = 0; i <= PATH_DEPTH_MAX; i++) {
      const name = i.toString(36);
      await fs.mkdir(`/deep/${name}`);
      if (names.length > 0) await fs.rename(`/deep/${names[0]}`, `/deep/${name}/${names[0]}`);
      names.unshift(name);
    }
    return names;
  })();
  return deepBuilt;
}
/** The path of PATH_DEPTH_MAX names in the deep tree (the deepest vfs walks), and the one past it. */
const deepAt = (names: string[]) => `/deep/${names.slice(0, PATH_DEPTH_MAX - 1).join("/")}`;
const deepPast = (names: string[]) => `/deep/${names.join("/")}`;

/** What vfs logged about requests of a caller that died before they ran (its log is one JSON object a line). */
function droppedFor(endpoint: string): number {
  const lines = readFileSync(join(ts.sys.state.runDir, "logs", "vfs.log"), "utf8").split("\n");
  return lines.filter((l) => l.includes(`"caller":"${endpoint}"`) && l.includes('"dropped"')).length;
}

describe("file systems under attack", () => {
  it("fs attack - an open, unlinked file lost in an mfs crash answers ESTALE; its descriptor never reaches the file that takes its inode", async () => {
    await fs.mkdir("/u");
    await fs.writeFile("/u/victim", "SECRET-A-secret-a");
    const h = await fs.open("/u/victim", "r+");
    await fs.unlink("/u/victim");
    await restarted("mfs", () => ts.sys.kill("mfs", "SIGKILL"));
    for (let i = 0; i < 3; i++) await fs.writeFile(`/u/other${i}`, `OTHER-${i}-data`);
    await expect(h.read(100, 0)).rejects.toMatchObject({ errno: "ESTALE" });
    await expect(h.write("HACKED", 0)).rejects.toMatchObject({ errno: "ESTALE" });
    for (let i = 0; i < 3; i++) expect((await fs.readFile(`/u/other${i}`)).toString()).toBe(`OTHER-${i}-data`);
    await h.close();
  }, 60_000);

  it("fs attack - after a vfs crash a handle whose path now names another file, or none, answers ESTALE and writes nowhere", async () => {
    await fs.mkdir("/v");
    await fs.writeFile("/v/x", "original-x");
    await fs.writeFile("/v/y", "original-y");
    await fs.writeFile("/v/gone", "gone");
    const x = await fs.open("/v/x", "r+");
    const gone = await fs.open("/v/gone", "r+");
    const other = new FsClient((await ts.client("fsuser2")).sys);
    await other.rename("/v/y", "/v/x"); // /v/x is now the former /v/y
    await other.unlink("/v/gone");
    await restarted("vfs", () => ts.sys.kill("vfs", "SIGKILL"));
    await expect(x.write("HAND", 0)).rejects.toMatchObject({ errno: "ESTALE" });
    await expect(gone.write("HACK", 0)).rejects.toMatchObject({ errno: "ESTALE" });
    expect((await fs.readFile("/v/x")).toString()).toBe("original-y");
    await x.close();
    await gone.close();
  }, 60_000);

  it("fs attack - a failed open changes nothing: EMFILE after O_TRUNC, O_CREAT with O_DIRECTORY; trailing slashes and rmdir of . are refused", async () => {
    const raw = (await ts.client("fsuser2")).sys;
    await fs.writeFile("/precious", "keep me");
    const fds: number[] = [];
    for (let i = 0; i < 256; i++) fds.push((await raw.sendrec("vfs", Vfs.VFS_OPEN, { path: "/precious", flags: O_RDONLY })).args.fd);
    await expect(raw.sendrec("vfs", Vfs.VFS_OPEN, { path: "/precious", flags: O_WRONLY | O_TRUNC })).rejects.toMatchObject({
      errno: "EMFILE",
    });
    await expect(raw.sendrec("vfs", Vfs.VFS_OPEN, { path: "/newbie", flags: O_WRONLY | O_CREAT })).rejects.toMatchObject({
      errno: "EMFILE",
    });
    for (const fd of fds) await raw.sendrec("vfs", Vfs.VFS_CLOSE, { fd });
    expect((await fs.readFile("/precious")).toString()).toBe("keep me");
    await expect(fs.stat("/newbie")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(raw.sendrec("vfs", Vfs.VFS_OPEN, { path: "/newdir", flags: O_CREAT | O_DIRECTORY })).rejects.toMatchObject({
      errno: "EINVAL",
    });
    await expect(fs.stat("/newdir")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.unlink("/precious/")).rejects.toMatchObject({ errno: "ENOTDIR" });
    await expect(fs.open("/made/", "w")).rejects.toMatchObject({ errno: "EISDIR" });
    await fs.mkdir("/empty");
    await expect(fs.rmdir("/empty/.")).rejects.toMatchObject({ errno: "EINVAL" });
    expect((await fs.stat("/empty")).isDirectory()).toBe(true);
    await expect(fs.statfs("/no/such/dir")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.stat("/precious/")).rejects.toMatchObject({ errno: "ENOTDIR" });
  }, 60_000);

  it("fs attack - a process that dies with opens still queued in vfs leaks no descriptor: fsck finds nothing open", async () => {
    await fs.writeFile("/precious", "keep me"); // each open below finds it (an ENOENT would hold nothing open)
    for (let round = 0; round < 3; round++) {
      // The kernel bounds traps per label (64): the previous incarnation's opens may still be
      // queued in vfs, and until vfs answers them the next incarnation's calls are EAGAIN.
      const c = await waitUntil(() => ts.client("fsuser2").catch((e: MkError) => (e.errno === "EAGAIN" ? undefined : Promise.reject(e))), {
        clock: systemClock,
        deadlineMs: 20_000,
        what: "fsuser2 admitted again once its predecessor's opens are answered",
      });
      let answered = 0;
      const opens = Array.from({ length: 150 }, () =>
        c.sys
          .sendrec("vfs", Vfs.VFS_OPEN, { path: "/precious", flags: O_RDONLY })
          .finally(() => void answered++)
          .catch(() => undefined),
      );
      // Stop while vfs has answered some opens and still holds the rest (later each round).
      await waitUntil(() => (answered >= 5 + round * 20 ? true : undefined), {
        clock: systemClock,
        deadlineMs: 20_000,
        intervalMs: 1,
        what: `${5 + round * 20} opens answered`,
      });
      await c.stop();
      await Promise.all(opens);
    }
    await waitUntil(async () => (mkctl("fsck").status === 0 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: "vfs to release every file of the dead processes",
    });
  }, 60_000);

  it("fs attack - an idle commit racing an mfs restart holds nothing twice: after close and unlink, fsck and the free count are as before", async () => {
    // In a directory of its own: a new name in / may take a directory block that an unlink
    // does not give back, whatever tests ran before.
    await fs.mkdir("/racy.d", { recursive: true });
    // And after an mfs restart of its own: a restart reclaims the orphans (files unlinked
    // while open) earlier tests may have left, which would show as blocks freed by this one.
    await restarted("mfs", () => ts.sys.kill("mfs", "SIGKILL"));
    const before = await fs.statfs("/");
    const h = await fs.open("/racy.d/racy", "w");
    await h.write(new Uint8Array(200_000).fill(7));
    // Pacing, not a wait for a condition: vfs's idle commit comes 1 s after the last write;
    // killing mfs at 0.75 s puts that commit inside mfs's restart, beside the next write.
    await systemClock.sleep(750);
    ts.sys.kill("mfs", "SIGKILL");
    await h.write("more");
    await h.close();
    await fs.unlink("/racy.d/racy");
    expect((await fs.statfs("/")).freeBlocks).toBe(before.freeBlocks);
    const check = mkctl("fsck");
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 60_000);

  it("fs attack - /proc answers while mfs is stopped: one stalled file system does not stall the others", async () => {
    const stuck = fs.writeFile("/stalled", "x"); // waits for mfs
    ts.sys.kill("mfs", "SIGSTOP");
    const started = Date.now();
    const other = new FsClient(user.sys, { timeoutMs: 5000, waitMs: 5000 });
    expect(Number((await other.readFile("/proc/uptime")).toString())).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(1500);
    await stuck; // rs finds the hang and replaces mfs; the write goes to the next one
    expect((await fs.readFile("/stalled")).toString()).toBe("x");
  }, 60_000);

  // The emulator writes through to the image file (its process holds no drive cache; a
  // flush is an fsync of the file), so its death loses nothing that reached it.
  it("fs attack - the emulator's process killed and started again: fsync'd and acknowledged files survive, and the file system stays consistent", async () => {
    await fs.mkdir("/power", { recursive: true });
    const synced = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    const h = await fs.open("/power/synced", "w");
    await h.write(synced);
    await h.sync();
    await h.close();
    const loose = await fs.open("/power/unsynced", "w");
    await loose.write(new Uint8Array(50_000).fill(9)); // acknowledged, not committed
    const hw = ts.sys.kill("hardware", "SIGKILL");
    await waitUntil(() => (pidAlive(hw) ? undefined : true), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: `the emulator (pid ${hw}) to exit`,
    });
    await ts.sys.start("hardware");
    expect(Buffer.compare(await fs.readFile("/power/synced"), Buffer.from(synced))).toBe(0);
    // Work goes on after the machine is back: new files, then a full check of the disk.
    for (let i = 0; i < 20; i++) await fs.writeFile(`/power/after${i}`, new Uint8Array(3000).fill(i));
    await loose.close();
    expect((await fs.readFile("/power/unsynced")).every((b) => b === 9)).toBe(true);
    for (let i = 0; i < 20; i++) expect((await fs.readFile(`/power/after${i}`)).every((b) => b === i)).toBe(true);
    const check = mkctl("fsck");
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 90_000);

  it("fs attack - a change sent twice with one request id (a resend through a new vfs) is made once: mkdir, exclusive create, append, unlink", async () => {
    const raw = (await ts.client("fsuser2")).sys;
    const twice = async (type: number, args: Record<string, unknown>, data?: Uint8Array) => {
      const first = await raw.transport.sendrec("vfs", type, args, data ?? new Uint8Array(0));
      const second = await raw.transport.sendrec("vfs", type, args, data ?? new Uint8Array(0));
      return [first.args, second.args] as const;
    };
    await twice(Vfs.VFS_MKDIR, { path: "/once", rid: "mkdir-once-0001" });
    await expect(raw.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/once", rid: "mkdir-once-0002" })).rejects.toMatchObject({ errno: "EEXIST" });
    const [a, b] = await twice(Vfs.VFS_OPEN, { path: "/once/f", flags: O_WRONLY | O_CREAT | O_EXCL | O_APPEND, rid: "create-once-001" });
    const opened = parseReplyArgs(Vfs.VFS_OPEN, a);
    expect(parseReplyArgs(Vfs.VFS_OPEN, b).ino).toBe(opened.ino);
    const fd = opened.fd;
    const [w1, w2] = await twice(Vfs.VFS_WRITE, { fd, rid: "append-once-001" }, new TextEncoder().encode("once;"));
    expect(w2).toEqual(w1);
    await raw.sendrec("vfs", Vfs.VFS_WRITE, { fd, rid: "append-once-002" }, new TextEncoder().encode("twice;"));
    expect((await fs.readFile("/once/f")).toString()).toBe("once;twice;");
    await twice(Vfs.VFS_UNLINK, { path: "/once/f", rid: "unlink-once-001" });
    await expect(fs.stat("/once/f")).rejects.toMatchObject({ errno: "ENOENT" });
    // Without a request id a repeat is a second change, with its own errno.
    await expect(raw.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/once" })).rejects.toMatchObject({ errno: "EEXIST" });
    // The descriptor (one: the repeat was answered with the first's) is closed, or the file
    // stays open in mfs for as long as this client lives and a later check meets EBUSY.
    for (const f of new Set([fd, parseReplyArgs(Vfs.VFS_OPEN, b).fd])) await raw.sendrec("vfs", Vfs.VFS_CLOSE, { fd: f });
  }, 60_000);

  it("fs attack - request ids are each caller's own: B reusing A's id gets its own mkdir, create, append and rmdir done, never A's answer", async () => {
    const a = (await ts.client("fsuser3")).sys;
    const b = (await ts.client("fsuser2")).sys;
    const utf8 = new TextEncoder();
    const fd = (r: { args: unknown }) => parseReplyArgs(Vfs.VFS_OPEN, r.args).fd;
    const ino = (r: { args: unknown }) => parseReplyArgs(Vfs.VFS_OPEN, r.args).ino;
    await a.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/rid-a", rid: "shared-rid-0001" });
    await b.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/rid-b", rid: "shared-rid-0001" });
    expect((await fs.stat("/rid-b")).isDirectory()).toBe(true);
    // An exclusive create: B gets a file of its own, never a descriptor on A's.
    const fa = await a.sendrec("vfs", Vfs.VFS_OPEN, { path: "/rid-a/secret", flags: O_WRONLY | O_CREAT | O_EXCL, rid: "shared-rid-0002" });
    await a.sendrec("vfs", Vfs.VFS_PWRITE, { fd: fd(fa), offset: 0 }, utf8.encode("secret of A"));
    await a.sendrec("vfs", Vfs.VFS_CLOSE, { fd: fd(fa) });
    const fb = await b.sendrec("vfs", Vfs.VFS_OPEN, { path: "/rid-b/mine", flags: O_RDWR | O_CREAT | O_EXCL, rid: "shared-rid-0002" });
    expect(ino(fb)).not.toBe(ino(fa));
    expect((await b.sendrec("vfs", Vfs.VFS_PREAD, { fd: fd(fb), offset: 0, count: 100 })).data.length).toBe(0);
    await b.sendrec("vfs", Vfs.VFS_CLOSE, { fd: fd(fb) });
    // Appends with one id from both: each lands in its own file.
    const la = await a.sendrec("vfs", Vfs.VFS_OPEN, { path: "/rid-a/log", flags: O_WRONLY | O_CREAT | O_APPEND, rid: "shared-rid-0003" });
    const lb = await b.sendrec("vfs", Vfs.VFS_OPEN, { path: "/rid-b/log", flags: O_WRONLY | O_CREAT | O_APPEND, rid: "shared-rid-0003" });
    await a.sendrec("vfs", Vfs.VFS_WRITE, { fd: fd(la), rid: "shared-rid-0004" }, utf8.encode("A;"));
    await b.sendrec("vfs", Vfs.VFS_WRITE, { fd: fd(lb), rid: "shared-rid-0004" }, utf8.encode("B;"));
    await a.sendrec("vfs", Vfs.VFS_CLOSE, { fd: fd(la) });
    await b.sendrec("vfs", Vfs.VFS_CLOSE, { fd: fd(lb) });
    expect((await fs.readFile("/rid-b/log")).toString()).toBe("B;");
    await a.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/rid-a/d" });
    await b.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/rid-b/d" });
    await a.sendrec("vfs", Vfs.VFS_RMDIR, { path: "/rid-a/d", rid: "shared-rid-0005" });
    await b.sendrec("vfs", Vfs.VFS_RMDIR, { path: "/rid-b/d", rid: "shared-rid-0005" });
    await expect(fs.stat("/rid-b/d")).rejects.toMatchObject({ errno: "ENOENT" });
    expect((await fs.readFile("/rid-a/secret")).toString()).toBe("secret of A");
  }, 60_000);

  it("fs attack - one caller reusing its request id for another change is EINVAL, never a replay; a new incarnation starts afresh", async () => {
    const a = (await ts.client("fsuser2")).sys;
    await a.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/reuse-x", rid: "reused-rid-0001" });
    await expect(a.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/reuse-y", rid: "reused-rid-0001" })).rejects.toMatchObject({ errno: "EINVAL" });
    await expect(fs.stat("/reuse-y")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(a.sendrec("vfs", Vfs.VFS_RMDIR, { path: "/reuse-x", rid: "reused-rid-0001" })).rejects.toMatchObject({ errno: "EINVAL" });
    expect((await fs.stat("/reuse-x")).isDirectory()).toBe(true);
    // The same change again from the same incarnation is a resend: answered, made once.
    await a.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/reuse-x", rid: "reused-rid-0001" });
    // A new incarnation of the label is another caller: its change is made (and meets the directory).
    const again = (await ts.client("fsuser2")).sys;
    await expect(again.sendrec("vfs", Vfs.VFS_MKDIR, { path: "/reuse-x", rid: "reused-rid-0001" })).rejects.toMatchObject({
      errno: "EEXIST",
    });
  }, 60_000);

  it("fs attack - rm -r of a path that resolves to the root or a mount (/rt/.., /rt/../, /proc/.., //, /proc) is EBUSY through FsClient and mkctl, and removes nothing", async () => {
    await fs.mkdir("/rt", { recursive: true });
    await fs.writeFile("/rt/keep", "kept");
    const before = (await fs.readdir("/")).sort();
    for (const p of ["/rt/..", "/rt/../", "/rt/./..", "/proc/..", "//", "/proc"]) {
      await expect(fs.rm(p, { recursive: true }), p).rejects.toMatchObject({ errno: "EBUSY" });
    }
    const r = mkctl("fs", "rm", "-r", "/rt/..");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^mkctl: EBUSY/);
    expect((await fs.readdir("/")).sort()).toEqual(before);
    expect((await fs.readFile("/rt/keep")).toString()).toBe("kept");
    expect((await fs.stat("/rt/..")).mount).toBe("/");
    expect((await fs.stat("/proc/.")).mount).toBe("/proc");
    expect((await fs.stat("/rt")).mount).toBeUndefined();
  }, 60_000);

  it("fs attack - . and .. need an existing directory before them: /file/.. and /file/. are ENOTDIR, /nosuch/.. is ENOENT, and nothing is made through them", async () => {
    await fs.writeFile("/dotfile", "x");
    for (const p of ["/dotfile/..", "/dotfile/.", "/dotfile/../dotfile", "/dotfile/./"])
      await expect(fs.stat(p), p).rejects.toMatchObject({ errno: "ENOTDIR" });
    for (const p of ["/nosuch/..", "/nosuch/./..", "/nosuch/../dotfile"])
      await expect(fs.stat(p), p).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.mkdir("/dotfile/../made")).rejects.toMatchObject({ errno: "ENOTDIR" });
    await expect(fs.writeFile("/nosuch/../made", "y")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.rename("/dotfile", "/dotfile/../moved")).rejects.toMatchObject({ errno: "ENOTDIR" });
    await expect(fs.stat("/made")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.stat("/moved")).rejects.toMatchObject({ errno: "ENOENT" });
    // Through a directory, . and .. are what they always were.
    await fs.mkdir("/dotdir/sub", { recursive: true });
    expect((await fs.stat("/dotdir/sub/../../dotfile")).size).toBe(1);
    expect((await fs.stat("/dotdir/./sub/.")).isDirectory()).toBe(true);
    expect((await fs.stat("/proc/../dotfile")).dev).toBe("mfs");
  }, 60_000);

  it("fs attack - a tree deeper than vfs walks, built by renames: a path of more than PATH_DEPTH_MAX names is ENAMETOOLONG, and the deep part is reached again by a rename near the root", async () => {
    const names = await deepTree();
    expect((await fs.stat(deepAt(names))).isDirectory()).toBe(true);
    await expect(fs.stat(deepPast(names))).rejects.toMatchObject({ errno: "ENAMETOOLONG" });
    await expect(fs.mkdir(`${deepAt(names)}/more`)).rejects.toMatchObject({ errno: "ENAMETOOLONG" });
    await expect(fs.stat(`${deepAt(names)}/../${names[PATH_DEPTH_MAX - 2]}`)).rejects.toMatchObject({ errno: "ENAMETOOLONG" });
    // A rename touches only what its two paths name: the bottom comes within reach, and goes back.
    const top = `/deep/${names.slice(0, 3).join("/")}`;
    await fs.rename(top, "/deep/up");
    expect((await fs.stat(`/deep/up/${names.slice(3).join("/")}`)).isDirectory()).toBe(true);
    await fs.rename("/deep/up", top);
  }, 60_000);

  it("fs attack - deep walks in parallel from one client do not hold up another client's stat: answered within 1 s", async () => {
    const names = await deepTree();
    const hostile = (await ts.client("fsdeep")).sys;
    let stop = false;
    let done = 0;
    const walker = async (k: number) => {
      while (!stop) {
        await hostile.sendrec("vfs", Vfs.VFS_STAT, { path: k % 2 ? deepAt(names) : deepPast(names) }).catch(() => undefined);
        done++;
      }
    };
    // Half walk PATH_DEPTH_MAX names (the deepest vfs walks), half the tree's full depth (refused before any lookup).
    const walkers = Array.from({ length: 32 }, (_, k) => walker(k));
    try {
      await waitUntil(() => (done >= 1 ? true : undefined), { clock: systemClock, deadlineMs: 30_000, what: "a first deep walk answered" });
      let worst = 0;
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        await fs.stat("/deep");
        worst = Math.max(worst, Date.now() - started);
      }
      expect(worst).toBeLessThan(1000);
    } finally {
      stop = true;
      await Promise.all(walkers);
    }
  }, 90_000);

  it("fs attack - a client that dies with deep walks queued in vfs has them dropped, not run", async () => {
    const names = await deepTree();
    const c = await ts.client("fsdeep2");
    const endpoint = c.sys.self;
    let answered = 0;
    const walks = Array.from({ length: 60 }, () =>
      c.sys
        .sendrec("vfs", Vfs.VFS_STAT, { path: deepAt(names) })
        .finally(() => void answered++)
        .catch(() => undefined),
    );
    await waitUntil(() => (answered >= 1 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 30_000,
      what: "a first deep walk answered",
    });
    await c.stop();
    await Promise.all(walks);
    await waitUntil(() => (droppedFor(endpoint) >= 30 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: `vfs to drop the queued walks of ${endpoint}`,
    });
  }, 60_000);

  it("fs attack - a client superseded by a newer process of its label stops within seconds with EDEADSRCDST, not after the 60 s deadline", async () => {
    const old = await ts.client("fsuser2");
    const oldFs = new FsClient(old.sys);
    await oldFs.writeFile("/superseded", "x");
    await ts.client("fsuser2"); // the same label again: the kernel supersedes the first
    const started = Date.now();
    await expect(oldFs.readFile("/superseded")).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it("fs attack - an append that landed through a vfs that then died, and an mfs that dies before the commit: the bytes are still there", async () => {
    const chaos = (await ts.client("fschaos")).sys;
    await fs.writeFile("/landed", "head;");
    const h = await fs.open("/landed", "a");
    // vfs answers late (the append is in mfs's cache, kept only by this vfs), and dies meanwhile.
    await chaos.sendrec("vfs", Common.COMMON_FAULT, { fault: "slow", ms: 3000, count: 1 });
    const body = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
    const appending = h.write(body);
    const other = new FsClient((await ts.client("fsuser2")).sys);
    await waitUntil(async () => ((await other.stat("/landed")).size === 5005 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "the append in mfs while vfs holds back its reply",
    });
    await restarted("vfs", () => ts.sys.kill("vfs", "SIGKILL"));
    await appending; // resent: finds its bytes at the end, and has the new vfs keep them
    await restarted("mfs", () => ts.sys.kill("mfs", "SIGKILL")); // its cache, with the append, is gone
    await h.close();
    const back = await fs.readFile("/landed");
    expect(back.length).toBe(5 + 5000);
    expect(Buffer.compare(back.subarray(5), Buffer.from(body))).toBe(0);
  }, 60_000);

  it("fs attack - mkctl fs put of a local file that does not exist leaves the remote file alone; rm -r / is refused", async () => {
    await fs.writeFile("/keep", "contents");
    const r = mkctl("fs", "put", "/nonexistent/local/file", "/keep");
    expect(r.status).toBe(64);
    expect((await fs.readFile("/keep")).toString()).toBe("contents");
    const listed = (await fs.readdir("/")).sort();
    const root = mkctl("fs", "rm", "-r", "/");
    expect(root.status).toBe(1);
    expect(root.stderr).toMatch(/^mkctl: EBUSY/);
    expect(listed).toContain("keep");
    expect((await fs.readdir("/")).sort()).toEqual(listed); // nothing under / was removed
  }, 60_000);
});
