// One code base, every kernel architecture (etc/arch): the microkernel (every driver and
// server its own process), the hybrid (the file systems inside kernel-core) and the
// monolithic kernel (every driver and server inside it) run the same verifying file
// workload from the same modules, leave the disk clean, and mkctl arch names each.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { attachConsole, FsClient, followEvents, sysGetEndpoints } from "#libsys";
import { Common, type KernelEvent } from "#abi";
import { FileWorkload } from "../../services/workload/src/index.ts";
import { bootTestSystem, ROOT, runMkctl, type TestSystem } from "../helpers/system.ts";

const FS_USER = `
  fsuser:
    ipc: [vfs, mfs]
    calls: [getinfo]
  watcher:
    ipc: [vfs, mfs]
    calls: [getinfo]
    events: true
    console: true
    chaos: true
`;

let ts: TestSystem | undefined;
afterEach(async () => {
  await ts?.down();
  ts = undefined;
});

describe("file systems in every architecture", () => {
  const inKernel: Record<string, string[]> = {
    microkernel: [],
    hybrid: ["mfs", "procfs", "vfs"],
    monolithic: ["ata", "mfs", "procfs", "sched", "tty", "vfs"],
  };
  for (const arch of ["microkernel", "hybrid", "monolithic"]) {
    it(`architectures - ${arch}: the verifying file workload passes, the disk is left clean, and mkctl arch says ${arch} with ${inKernel[arch].join(", ") || "nothing"} inside kernel-core`, async () => {
      ts = await bootTestSystem({ services: FS_USER, arch });
      const user = await ts.client("fsuser");
      const rows = await sysGetEndpoints(user.sys);
      for (const label of ["ata", "tty", "mfs", "procfs", "vfs", "sched"])
        expect(
          rows.find((e) => e.label === label),
          label,
        ).toMatchObject({ state: "ready", placement: inKernel[arch].includes(label) ? "kernel" : "user" });
      const shown = runMkctl(ts, "arch", "--json");
      expect(shown.status, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ arch, profile: `etc/arch/${arch}.yaml`, kernel: inKernel[arch] });
      const w = new FileWorkload(user.sys, { workers: 3, maxBytes: 20000, seed: 42 });
      const started = Date.now();
      await w.start();
      await waitUntil(() => (w.stats.ops_attempted >= 200 ? true : undefined), {
        clock: systemClock,
        deadlineMs: 60_000,
        what: "200 file operations",
      });
      const s = await w.stop();
      console.log(
        `${arch}: ${s.ops_attempted} file operations in ${Date.now() - started} ms (final checks included), ${s.bytes_verified} bytes verified`,
      );
      expect(s.ops_failed).toBe(0);
      expect(s.bytes_wrong).toBe(0);
      const fs = new FsClient(user.sys);
      expect((await fs.readFile("/proc/ata/status")).toString()).toMatch(/^Name:\tata$/m);
      const check = spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), "fsck", "--run-dir", ts.sys.state.runDir], {
        encoding: "utf8",
      });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    }, 90_000);
  }
});

describe("the other side of the trade", () => {
  it("architectures - hybrid: mfs crashing inside kernel-core is a kernel panic: the panic event names it, the console says so, and kernel-core exits 70", async () => {
    ts = await bootTestSystem({ services: FS_USER, arch: "hybrid" });
    const exits: { name: string; code: number | null }[] = [];
    ts.sys.onExit((e) => exits.push(e));
    const watcher = await ts.client("watcher");
    const panics: KernelEvent[] = [];
    await followEvents(watcher.sys, (ev) => {
      if (ev.kind === "panic") panics.push(ev);
    });
    let screen = "";
    await attachConsole(watcher.sys, (bytes) => (screen += new TextDecoder().decode(bytes)));
    // The chaos crash fault: mfs throws a bug (not an errno) on its next request.
    await watcher.sys.sendrec("mfs", Common.COMMON_FAULT, { fault: "crash" });
    // Not awaited: a halted kernel answers nothing, and the client would wait for a vfs to come back.
    void new FsClient(watcher.sys).stat("/no-such-file").catch(() => undefined);
    await waitUntil(() => (exits.some((e) => e.name === "kernel") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "kernel-core to end",
    });
    expect(exits.find((e) => e.name === "kernel")).toMatchObject({ code: 70 });
    expect(panics).toHaveLength(1);
    expect(panics[0]).toMatchObject({ label: "mfs", placement: "kernel" });
    expect(panics[0].detail).toMatch(/in-kernel server mfs crashed: InjectedCrash/);
    await waitUntil(() => (screen.includes("kernel panic") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 3000,
      what: "the panic on the console",
    });
    expect(screen).toMatch(/\*\*\* kernel panic: in-kernel server mfs crashed: InjectedCrash/);
  }, 60_000);
});
