// The trade placement makes, shown by one crash: the ATA driver throws from inside its
// handler (libsys's crash hook, armed by MK_CRASH_ON in the environment of the process it
// runs in). In kernel placement the crash is kernel-core's: it panics and exits, and the
// whole system is down (the monolithic blue screen). In user placement only the driver's
// process exits: kernel-core, the emulator and tty keep their PIDs and go on serving, and
// the caller gets EDEADSRCDST at once.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Bdev, Common } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { BdevClient, sysGetEndpoints } from "#libsys";
import { pidAlive } from "../../services/boot/src/boot.ts";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

// mfs is told to leave the blank disk alone: making a file system flushes the disk, and
// the crash would come at boot instead of at the test's own flush.
const CRASH_ON = { MK_CRASH_ON: "ata:BDEV_FLUSH", MK_MFS_FORMAT_BLANK: "0" };

let ts: TestSystem | undefined;
afterEach(async () => {
  await ts?.down();
  ts = undefined;
});

/** The JSON lines a part logged (pino, or libsys's panic line), parsed. */
function logLines(sys: TestSystem, part: string): Record<string, unknown>[] {
  return readFileSync(join(sys.sys.state.runDir, "logs", `${part}.log`), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Serves reads with the hook armed: the crash comes only with the armed message type. */
async function readsOneSector(sys: TestSystem): Promise<Awaited<ReturnType<TestSystem["client"]>>> {
  const c = await sys.client();
  const disk = new BdevClient(c.sys, "ata");
  await disk.openMinor(0);
  expect((await disk.read(0, 1)).length).toBe(512);
  return c;
}

describe("driver crash", () => {
  it("driver crash - in kernel placement a crash in the ATA driver panics kernel-core: its process exits, the caller gets ENOTREADY", async () => {
    ts = await bootTestSystem({ placement: { ata: "kernel" }, env: CRASH_ON });
    const c = await readsOneSector(ts);
    const pids = ts.sys.pids();
    expect(pids.ata).toBeUndefined(); // ata lives in kernel-core's process

    // kernel-core dies with the request: the client notices its announcements stop.
    await expect(c.sys.sendrec("ata", Bdev.BDEV_FLUSH, { minor: 0 })).rejects.toMatchObject({ errno: "ENOTREADY", code: -106 });
    await waitUntil(() => (pidAlive(pids.kernel) ? undefined : true), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: `kernel-core (pid ${pids.kernel}) to exit`,
    });
    expect(ts.sys.alive()).toMatchObject({ kernel: false, hardware: true, nats: true, tty: true });
    expect(ts.sys.pids().kernel).toBe(pids.kernel); // no one started another kernel
    await expect(fetch(`${ts.sys.state.kernelHttp}/healthz`)).rejects.toThrow();

    const panic = logLines(ts, "kernel").find((l) => l.level === 60 && l.inKernel === "ata");
    expect(panic).toMatchObject({
      svc: "kernel-core",
      pid: pids.kernel,
      inKernel: "ata",
      err: { type: "InjectedCrash", label: "ata", msgType: "BDEV_FLUSH" },
    });
  });

  it("driver crash - in user placement the same crash ends only the driver's process: the caller gets EDEADSRCDST, kernel-core and tty serve on, rs starts ata#2", async () => {
    ts = await bootTestSystem({ placement: { ata: "user" }, env: CRASH_ON });
    const c = await readsOneSector(ts);
    const pids = ts.sys.pids();
    expect(pids.ata).toBeGreaterThan(0);
    const before = (await sysGetEndpoints(c.sys)).find((e) => e.label === "ata")!;
    expect(before).toMatchObject({ state: "ready", placement: "user", pid: pids.ata });

    await expect(c.sys.sendrec("ata", Bdev.BDEV_FLUSH, { minor: 0 })).rejects.toMatchObject({ errno: "EDEADSRCDST", code: -105 });
    await waitUntil(() => (pidAlive(pids.ata) ? undefined : true), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: `ata (pid ${pids.ata}) to exit`,
    });
    expect(ts.sys.alive()).toMatchObject({ kernel: true, hardware: true, nats: true, tty: true });

    // kernel-core is the same process, knows the driver's incarnation is dead, and still routes.
    await expect(c.sys.sendrec(before.endpoint, Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    await expect(c.sys.sendrec("tty", Common.COMMON_PING, {})).resolves.toMatchObject({ data: expect.any(Uint8Array) });
    // rs saw the process exit and started the next generation.
    await ts.sys.waitAllReady(30_000, { ata: before.generation }, ["ata"]);
    const after = await sysGetEndpoints(c.sys);
    expect(after.find((e) => e.label === "ata")).toMatchObject({ generation: before.generation + 1, state: "ready" });
    expect(after.find((e) => e.label === "tty")).toMatchObject({ state: "ready", pid: pids.tty });
    expect((await ts.sys.services()).find((r) => r.label === "ata")).toMatchObject({
      state: "running",
      restarts: 1,
      last_cause: "exit 70 (crash: an error no handler caught)",
    });
    const metrics = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
    expect(metrics).toMatch(/mk_endpoint_deaths_total\{label="ata",cause="disconnect"\} 1/);
    expect(pidAlive(pids.kernel)).toBe(true);

    const panic = logLines(ts, "ata").find((l) => l.level === 60);
    expect(panic).toMatchObject({ svc: "ata", msg: "panic", err: expect.stringMatching(/^InjectedCrash: /) });
    expect(logLines(ts, "kernel").filter((l) => l.level === 60)).toEqual([]);
  });
});
