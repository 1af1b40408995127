// The file systems of a running mkos, as a user program and mkctl see them: vfs resolving
// paths over mfs, the MINIX v3 file system on the ATA disk. A blank disk is formatted at
// first mount; what mkos wrote passes util-linux's fsck.minix; errno results are POSIX's;
// a crash of mfs or of vfs fails no operation and loses no acknowledged byte.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fs, Vfs } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { FsClient, type RunningService } from "#libsys";
import { bootTestSystem, pattern, readyGeneration, restarted, ROOT, runMkctl, type TestSystem } from "../helpers/system.ts";

const FS_USER = `
  fsuser:
    ipc: [vfs, mfs]
    calls: [getinfo]
`;
const SECTORS = 131072; // 64 MiB: the file system is the second half (32 MiB, 1 KiB blocks)

let ts: TestSystem;
let user: RunningService;
let fs: FsClient;

beforeAll(async () => {
  ts = await bootTestSystem({ services: FS_USER, sectors: SECTORS });
  user = await ts.client("fsuser");
  fs = new FsClient(user.sys);
}, 60_000);
afterAll(async () => {
  await ts?.down();
});

const mkctl = (...args: string[]) => runMkctl(ts, ...args);

/** The file system's half of the disk image, as a file util-linux can check. */
function fsImage(): string {
  const out = join(ts.dir, "fs-half.img");
  const fd = openSync(ts.sys.state.disk, "r");
  const buf = Buffer.alloc((SECTORS / 2) * 512);
  readSync(fd, buf, 0, buf.length, (SECTORS / 2) * 512);
  closeSync(fd);
  writeFileSync(out, buf);
  return out;
}

describe("file systems", () => {
  it("fs - a blank disk gets a file system at first mount; files written through vfs read back, and stat and readdir agree", async () => {
    await fs.mkdir("/home/ast", { recursive: true });
    const body = randomBytes(300_000); // past the 7 direct zones, into the single indirect
    await fs.writeFile("/home/ast/minix.bin", body);
    await fs.writeFile("/home/ast/hello.txt", "hello, mkos\n");
    expect(Buffer.compare(await fs.readFile("/home/ast/minix.bin"), body)).toBe(0);
    expect((await fs.readFile("/home/ast/hello.txt")).toString()).toBe("hello, mkos\n");
    const st = await fs.stat("/home/ast/minix.bin");
    expect(st).toMatchObject({ size: 300_000, dev: "mfs" });
    expect(st.isFile()).toBe(true);
    expect((await fs.readdir("/home/ast")).sort()).toEqual(["hello.txt", "minix.bin"]);
    expect((await fs.stat("/home")).isDirectory()).toBe(true);
  });

  it("fs - the POSIX calls answer POSIX errnos, and a failed call changes nothing", async () => {
    await fs.mkdir("/e");
    await fs.writeFile("/e/file", "x");
    await fs.mkdir("/e/dir");
    await fs.writeFile("/e/dir/inner", "y");
    await expect(fs.stat("/e/nope")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.mkdir("/e/dir")).rejects.toMatchObject({ errno: "EEXIST" });
    await expect(fs.open("/e/file", "wx")).rejects.toMatchObject({ errno: "EEXIST" });
    await expect(fs.stat("/e/file/below")).rejects.toMatchObject({ errno: "ENOTDIR" });
    await expect(fs.open("/e/dir", "w")).rejects.toMatchObject({ errno: "EISDIR" });
    await expect(fs.unlink("/e/dir")).rejects.toMatchObject({ errno: "EISDIR" });
    await expect(fs.rmdir("/e/dir")).rejects.toMatchObject({ errno: "ENOTEMPTY" });
    await expect(fs.rmdir("/e/file")).rejects.toMatchObject({ errno: "ENOTDIR" });
    await expect(fs.writeFile(`/e/${"n".repeat(61)}`, "z")).rejects.toMatchObject({ errno: "ENAMETOOLONG" });
    await expect(fs.stat(`/${"a/".repeat(2100)}`)).rejects.toMatchObject({ errno: "ENAMETOOLONG" });
    await expect(fs.stat("/e/fi\0le")).rejects.toMatchObject({ errno: "EINVAL" });
    await expect(fs.rename("/e/dir", "/e/dir/inner/x")).rejects.toMatchObject({ errno: expect.stringMatching(/^(EINVAL|ENOTDIR)$/) });
    await expect(fs.rmdir("/")).rejects.toMatchObject({ errno: "EBUSY" });
    // A descriptor never opened, and one already closed.
    await expect(user.sys.sendrec("vfs", Vfs.VFS_READ, { fd: 77, count: 10 })).rejects.toMatchObject({ errno: "EBADF" });
    const h = await fs.open("/e/file", "r");
    const fd = h.fd;
    await h.close();
    await expect(user.sys.sendrec("vfs", Vfs.VFS_READ, { fd, count: 10 })).rejects.toMatchObject({ errno: "EBADF" });
    // Read-only descriptors do not write.
    const ro = await fs.open("/e/file", "r");
    await expect(ro.write("more")).rejects.toMatchObject({ errno: "EBADF" });
    await ro.close();
    // Nothing of the above changed what was stored.
    expect((await fs.readFile("/e/file")).toString()).toBe("x");
    expect((await fs.readFile("/e/dir/inner")).toString()).toBe("y");
    expect((await fs.readdir("/e")).sort()).toEqual(["dir", "file"]);
  });

  it("fs - sparse files read zeros in their holes and allocate only what was written; truncate frees it again", async () => {
    // In a directory of its own: a new name in / may take a directory block that an unlink
    // does not give back, whatever tests ran before.
    await fs.mkdir("/sparse.d", { recursive: true });
    const before = await fs.statfs("/");
    const h = await fs.open("/sparse.d/sparse", "w+");
    await h.write("end", 8 * 1024 * 1024); // past the double indirect start with 4 KiB blocks? far past the direct zones at least
    await h.sync();
    const st = await h.stat();
    expect(st.size).toBe(8 * 1024 * 1024 + 3);
    expect(st.blocks * 512).toBeLessThan(64 * 1024); // a few zones and indirect blocks, not 8 MiB
    const hole = await h.read(4096, 4 * 1024 * 1024);
    expect(hole.every((b) => b === 0)).toBe(true);
    expect(Buffer.from(await h.read(3, 8 * 1024 * 1024)).toString()).toBe("end");
    await h.close();
    await fs.unlink("/sparse.d/sparse");
    expect((await fs.statfs("/")).freeBlocks).toBe(before.freeBlocks);
  });

  it("fs - rename moves files and directories, replacing a file target, and a directory with thousands of entries lists them all", async () => {
    await fs.mkdir("/r/a", { recursive: true });
    await fs.writeFile("/r/a/f", "1");
    await fs.writeFile("/r/g", "2");
    await fs.rename("/r/a/f", "/r/g");
    expect((await fs.readFile("/r/g")).toString()).toBe("1");
    await fs.rename("/r/a", "/r/b");
    expect(await fs.readdir("/r")).toEqual(expect.arrayContaining(["b", "g"]));
    await expect(fs.stat("/r/a")).rejects.toMatchObject({ errno: "ENOENT" });
    await fs.mkdir("/many");
    for (let i = 0; i < 2000; i++) await fs.writeFile(`/many/f${i}`, "");
    const names = await fs.readdir("/many");
    expect(names.length).toBe(2000);
    expect(new Set(names).size).toBe(2000);
  }, 120_000);

  it("fs - mkctl fs put, get, ls, cat, stat, mv, rm, mkdir, tree and df work on the running system", async () => {
    const local = join(ts.dir, "local.bin");
    const back = join(ts.dir, "back.bin");
    const body = randomBytes(700_000);
    writeFileSync(local, body);
    expect(mkctl("fs", "mkdir", "-p", "/srv/data").status).toBe(0);
    expect(mkctl("fs", "put", local, "/srv/data/blob").status).toBe(0);
    expect(mkctl("fs", "get", "/srv/data/blob", back).status).toBe(0);
    expect(Buffer.compare(readFileSync(back), body)).toBe(0);
    expect(mkctl("fs", "ls", "/srv").stdout).toBe("data/\n");
    expect(mkctl("fs", "ls", "-l", "/srv/data").stdout).toMatch(/^-rw-r--r--\s+1\s+700000\s+\S+ \S+\s+blob$/m);
    const stat = JSON.parse(mkctl("fs", "stat", "--json", "/srv/data/blob").stdout);
    expect(stat).toMatchObject({ path: "/srv/data/blob", type: "file", size: 700_000, dev: "mfs" });
    await fs.writeFile("/srv/hello", "hi there\n");
    expect(mkctl("fs", "cat", "/srv/hello").stdout).toBe("hi there\n");
    expect(mkctl("fs", "mv", "/srv/hello", "/srv/data/hello").status).toBe(0);
    expect(mkctl("fs", "tree", "/srv").stdout).toContain("└── data/\n    ├── blob\n    └── hello");
    const df = JSON.parse(mkctl("fs", "df", "--json").stdout);
    expect(df[0]).toMatchObject({ dev: "mfs", mount: "/", blockSize: 1024 });
    expect(df[0].freeBlocks).toBeLessThan(df[0].blocks);
    expect(mkctl("fs", "rm", "-r", "/srv").status).toBe(0);
    const missing = mkctl("fs", "cat", "/srv/hello");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^mkctl: ENOENT: /);
    expect(mkctl("fs", "frobnicate").status).toBe(64);
  }, 120_000);

  it("fs - two mkctl at once: mkctl services during a 2 MB mkctl fs put supersedes nothing, both succeed; a put killed part way leaves the target as it was", async () => {
    const local = join(ts.dir, "six.bin");
    const body = randomBytes(2 << 20);
    writeFileSync(local, body);
    const mkctlArgs = (...args: string[]) => [join(ROOT, "services/mkctl/src/main.ts"), ...args, "--run-dir", ts.sys.state.runDir];
    const exited = (p: ChildProcess) =>
      new Promise<number>((resolve) => p.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1))));
    const put = spawn(process.execPath, mkctlArgs("fs", "put", local, "/six.bin"), { stdio: "ignore" });
    const putDone = exited(put);
    let during = 0;
    for (let i = 0; i < 2 && put.exitCode === null; i++) {
      expect(mkctl("services").status).toBe(0);
      during++;
    }
    expect(await putDone).toBe(0);
    expect(during).toBeGreaterThan(0);
    expect(Buffer.compare(await fs.readFile("/six.bin"), body)).toBe(0);
    // A put that dies part way: PATH keeps what it had, no partial file appears under it.
    await fs.writeFile("/keep.txt", "old contents");
    const dying = spawn(process.execPath, mkctlArgs("fs", "put", "-", "/keep.txt"), { stdio: ["pipe", "ignore", "ignore"] });
    const dead = exited(dying);
    dying.stdin!.on("error", () => undefined); // the pipe breaks when it is killed
    dying.stdin!.write(randomBytes(256 << 10));
    await waitUntil(async () => ((await fs.readdir("/")).some((n) => n.startsWith(".keep.txt.part-")) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the put under way",
    });
    dying.kill("SIGKILL");
    await dead;
    expect((await fs.readFile("/keep.txt")).toString()).toBe("old contents");
    await fs.unlink("/six.bin");
  }, 120_000);

  it("fs - SIGKILL of mfs with acknowledged writes still in its cache loses none of them: vfs sends them to the next generation", async () => {
    const body = randomBytes(200_000);
    const h = await fs.open("/unstable.bin", "w");
    await h.write(body); // acknowledged, not synced: in mfs's cache and kept by vfs
    await restarted(user, "mfs", () => ts.sys.kill("mfs", "SIGKILL"));
    await h.write("tail");
    await h.close();
    const back = await fs.readFile("/unstable.bin");
    expect(back.length).toBe(200_004);
    expect(Buffer.compare(back.subarray(0, 200_000), body)).toBe(0);
  }, 60_000);

  it("fs - a crash of vfs itself: an open file goes on at its position in the next vfs", async () => {
    const h = await fs.open("/vfs-crash.txt", "w+");
    await h.write("first ");
    const before = await readyGeneration(user, "vfs");
    ts.sys.kill("vfs", "SIGKILL");
    await h.write("second"); // waits for the next vfs, reopens the file there, writes at its position
    expect(await readyGeneration(user, "vfs")).toBeGreaterThan(before);
    expect(Buffer.from(await h.read(100, 0)).toString()).toBe("first second");
    await h.close();
  }, 60_000);

  it("fs - /proc shows every endpoint from the kernel's events: a killed driver's directory shows its death and the next generation; /proc is read-only", async () => {
    expect(await fs.readdir("/")).toContain("proc");
    const listed = await fs.readdir("/proc");
    for (const name of ["uptime", "endpoints", "kernel", "ata", "tty", "mfs", "vfs", "procfs", "rs"]) expect(listed).toContain(name);
    const status = async () =>
      Object.fromEntries(
        (await fs.readFile("/proc/ata/status"))
          .toString()
          .trim()
          .split("\n")
          .map((l) => l.split(":\t")),
      );
    const before = await status();
    expect(before).toMatchObject({ Name: "ata", State: "ready" });
    ts.sys.kill("ata", "SIGKILL");
    await waitUntil(
      async () => {
        const s = await status();
        return Number(s.Generation) > Number(before.Generation) && s.State === "ready" ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 20_000, what: "/proc/ata/status to show the next generation ready" },
    );
    const after = await status();
    expect(Number(after.Generation)).toBe(Number(before.Generation) + 1);
    expect(after.LastDeath).toMatch(/^(disconnect|no-subscriber)/);
    expect(Number((await fs.readFile("/proc/ata/restarts")).toString())).toBe(Number(after.Restarts));
    expect(Number((await fs.readFile("/proc/uptime")).toString())).toBeGreaterThan(0);
    expect((await fs.readFile("/proc/endpoints")).toString()).toMatch(/^ata#\d+\s+ready/m);
    await expect(fs.writeFile("/proc/ata/status", "x")).rejects.toMatchObject({ errno: "EROFS" });
    await expect(fs.mkdir("/proc/new")).rejects.toMatchObject({ errno: "EROFS" });
    await expect(fs.rename("/home", "/proc/home")).rejects.toMatchObject({ errno: "EXDEV" });
    expect((await fs.stat("/proc/ata")).dev).toBe("procfs");
  }, 60_000);

  it("fs - what mkos wrote passes util-linux fsck.minix -f, and mkctl fsck finds it clean", async () => {
    await fs.mkdir("/fsck.d", { recursive: true });
    await fs.writeFile("/fsck.d/written", pattern(0, 24)); // 12 KiB: direct zones and data Linux must find
    await fs.sync();
    const check = mkctl("fsck");
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const img = fsImage();
    const r = spawnSync("fsck.minix", ["-f", img], { encoding: "utf8" });
    expect(r.stdout + r.stderr).not.toMatch(/error|corrupt|unused|bad/i);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const listed = execFileSync("fsck.minix", ["-fl", img], { encoding: "utf8" });
    expect(listed).toContain("/fsck.d/written");
    rmSync(img);
  }, 60_000);
  it("fs - a directory name vfs caches never outlives a change made behind it: removed and its number reused straight through mfs, the walk finds out and asks again", async () => {
    await fs.rm("/dc", { recursive: true, force: true });
    await fs.mkdir("/dc/a", { recursive: true });
    await fs.writeFile("/dc/a/f", "old");
    expect((await fs.stat("/dc/a/f")).size).toBe(3); // vfs now knows /dc and /dc/a by name
    // A client with its own ipc to mfs (as mkctl mkfs has) changes the tree behind vfs.
    const mfs = <T extends Parameters<typeof user.sys.sendrec>[1]>(type: T, args: Parameters<typeof user.sys.sendrec<T>>[2]) =>
      user.sys.sendrec("mfs", type, args);
    const dc = (await mfs(Fs.FS_LOOKUP, { dir: 1, name: "dc" })).args.ino;
    const a = (await mfs(Fs.FS_LOOKUP, { dir: dc, name: "a" })).args.ino;
    await mfs(Fs.FS_UNLINK, { dir: a, name: "f" });
    await mfs(Fs.FS_RMDIR, { dir: dc, name: "a" });
    const b = (await mfs(Fs.FS_MKDIR, { dir: dc, name: "b", mode: 0o755 })).args.ino;
    const f = (await mfs(Fs.FS_CREATE, { dir: b, name: "f", mode: 0o644 })).args.ino;
    await user.sys.sendrec("mfs", Fs.FS_WRITE, { ino: f, offset: 0 }, new TextEncoder().encode("behind vfs"));
    await expect(fs.stat("/dc/a/f")).rejects.toMatchObject({ errno: "ENOENT" });
    await expect(fs.readFile("/dc/a/f")).rejects.toMatchObject({ errno: "ENOENT" });
    expect(new TextDecoder().decode(await fs.readFile("/dc/b/f"))).toBe("behind vfs");
    expect((await fs.readdir("/dc")).sort()).toEqual(["b"]);
    await fs.rm("/dc", { recursive: true });
  });
});
