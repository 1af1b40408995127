// A neighbour's restart is survived: nats-server, kernel-core and the hardware emulator
// are each killed under load and started again (by mkctl), and the system is whole again
// by itself: no driver is restarted, requests in flight fail fast with an errno, the
// endpoint table stays true, and what was programmed into the machine is programmed again.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Cdev, parseReplyArgs, Subjects, Workload } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { BdevClient, followEvents, FsClient, type RunningService } from "#libsys";
import { pidAlive } from "../../services/boot/src/boot.ts";
import { bootTestSystem, ROOT, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let client: RunningService;

beforeAll(async () => {
  // The demo workload runs throughout: every neighbour's restart must cost it nothing.
  ts = await bootTestSystem({
    services: "  fsclient:\n    ipc: [vfs]\n    calls: [getinfo]\n  wlwatch:\n    ipc: [workload]\n",
    demo: ["workload"],
    env: { MK_WORKLOAD_RATE: "40" },
  });
  client = await ts.client();
});
afterAll(async () => {
  await ts?.down();
});

async function mkctl(...args: string[]): Promise<{ stdout: string }> {
  const r = await promisify(execFile)(process.execPath, ["services/mkctl/src/main.ts", ...args, "--run-dir", ts.sys.state.runDir], {
    cwd: ROOT,
    timeout: 60_000,
  });
  ts.sys.reload(); // mkctl recorded the new process
  return r;
}

async function table(): Promise<Record<string, { endpoint: string; state: string; generation: number }>> {
  return Object.fromEntries((await ts.sys.endpoints()).map((e) => [e.label, e]));
}

/** One sample of a kernel metric (the first line that names it). */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
  const at = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(at?.slice(at.lastIndexOf(" ") + 1) ?? 0);
}

const irqCount = (line: number) => metric(`mk_irqs_total{line="${line}"}`);

/** Reads in a loop until stopped; counts what failed, and when reads worked again. */
function readLoop(disk: BdevClient) {
  const o = { stop: false, ok: 0, failed: [] as string[], lastOk: 0 };
  const done = (async () => {
    while (!o.stop) {
      try {
        await disk.read(0, 8);
        o.ok++;
        o.lastOk = Date.now();
      } catch (e) {
        o.failed.push((e as { errno?: string }).errno ?? String(e));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return Object.assign(o, { done });
}

describe("neighbours", () => {
  it("nats-server killed for 5 s under load and started again: no driver exits or is marked dead, no read fails (the block client waits and resends), reads resume by themselves", async () => {
    const pids = ts.sys.pids();
    const was = await table(); // the generations before the outage: the same after it
    const loop = readLoop(new BdevClient(client.sys, "ata", { timeoutMs: 2000 }));
    await waitUntil(() => (loop.ok > 5 ? true : undefined), { clock: systemClock, deadlineMs: 5000, what: "reads before the outage" });
    ts.sys.kill("nats", "SIGKILL");
    await new Promise((r) => setTimeout(r, 5000)); // the outage itself: what is being survived
    const back = Date.now();
    await mkctl("start", "nats");
    const before = loop.ok;
    await waitUntil(() => (loop.ok > before + 5 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: "reads working again after nats-server returned",
    });
    const resumedMs = loop.lastOk - back;
    loop.stop = true;
    await loop.done;
    console.log(
      `nats restart: reads resumed ${resumedMs} ms after nats-server was started again; ${loop.failed.length} reads failed during the outage`,
    );
    // The block client waited out the outage and sent again: no read failed (libsys recovery).
    expect(loop.failed).toEqual([]);
    for (const name of ["kernel", "hardware", "ata", "tty"]) expect(ts.sys.pids()[name], name).toBe(pids[name]);
    expect(ts.sys.alive()).toMatchObject({ kernel: true, hardware: true, ata: true, tty: true, nats: true });
    // An unrelated client that comes and goes on the new server is not mistaken for a driver
    // (NATS client ids start again from 1 on a restarted server).
    const ended: string[] = [];
    const follower = await followEvents(client.sys, (ev) => void (ev.kind === "dead" && ev.label === "client2" && ended.push(ev.endpoint)));
    for (let i = 0; i < 3; i++) await (await ts.client("client2")).stop();
    // The kernel has seen all three go (their exits); whatever their disconnects did has happened.
    await waitUntil(() => (ended.length >= 3 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the three client2 incarnations dead",
    });
    await ts.sys.endpoints(); // one more round trip through the kernel after the events
    follower.stop();
    const t = await table();
    expect(t.ata).toMatchObject({ endpoint: was.ata.endpoint, state: "ready" });
    expect(t.tty).toMatchObject({ endpoint: was.tty.endpoint, state: "ready" });
    // A driver that really dies on the new server is still noticed at once.
    ts.sys.kill("tty", "SIGKILL");
    await waitUntil(async () => ((await table()).tty.state !== "ready" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 3000,
      what: `${was.tty.endpoint} marked dead`,
    });
    await ts.sys.waitAllReady(30_000, { tty: was.tty.generation }, ["tty"]); // rs restarts it
  });

  it("kernel-core killed: a request in flight fails fast with ENOTREADY; a new kernel (mkctl start kernel) is joined by the running drivers, same generations", async () => {
    const pids = ts.sys.pids();
    const gens = await table();
    const waiting = client.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 80, timeoutMs: 60_000 }, undefined, 60_000).then(
      () => "answered",
      (e) => (e as { errno: string }).errno,
    );
    await waitUntil(async () => ((await metric("mk_traps_in_flight")) >= 1 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the read in flight in the kernel",
    });
    // Block reads through libsys's recovery run across the restart: none may fail.
    const loop = readLoop(new BdevClient(client.sys, "ata", { timeoutMs: 2000 }));
    await waitUntil(() => (loop.ok > 5 ? true : undefined), { clock: systemClock, deadlineMs: 5000, what: "reads before the kill" });
    const killed = Date.now();
    ts.sys.kill("kernel", "SIGKILL");
    expect(await waiting).toBe("ENOTREADY");
    const failedMs = Date.now() - killed;
    const { stdout } = await mkctl("start", "kernel");
    expect(stdout).toMatch(/^kernel: started pid \d+/);
    const restarted = Date.now();
    await waitUntil(
      async () => {
        const t = await table().catch(() => undefined);
        return t?.ata?.state === "ready" && t?.tty?.state === "ready" ? t : undefined;
      },
      { clock: systemClock, deadlineMs: 15_000, what: "ata and tty registered again with the new kernel" },
    );
    const joinedMs = Date.now() - restarted;
    const before = loop.ok;
    await waitUntil(() => (loop.ok > before + 5 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: "block reads going again",
    });
    loop.stop = true;
    await loop.done;
    expect(loop.failed).toEqual([]);
    const t = await table();
    expect(t.ata.endpoint).toBe(gens.ata.endpoint);
    expect(t.tty.endpoint).toBe(gens.tty.endpoint);
    for (const name of ["hardware", "ata", "tty"]) expect(ts.sys.pids()[name], name).toBe(pids[name]);
    // The clients re-registered too: the disk serves, and tty's IRQ line was claimed again.
    const disk = new BdevClient(client.sys, "ata");
    expect((await disk.read(0, 8)).length).toBe(4096);
    // The read made through the dead kernel (60 s) was ended with it: the very first line
    // typed goes to the next read, not to a reader whose answer would go nowhere.
    const consoleIn = await ts.raw("client");
    const next = client.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 100, timeoutMs: 5000 });
    consoleIn.publish(Subjects.consoleIn, new TextEncoder().encode("the first line after\n"));
    expect(new TextDecoder().decode((await next).data)).toBe("the first line after\n");
    const line = await typeLine("after a kernel restart");
    expect(line).toBe("after a kernel restart\n");
    console.log(
      `kernel restart: the request in flight failed with ENOTREADY ${failedMs} ms after the kill; drivers joined the new kernel ${joinedMs} ms after it started`,
    );
  });

  it("kernel-core and mfs killed together after mfs restarted once: the new kernel numbers mfs on (never back to 1), and file calls through vfs work again by themselves", async () => {
    const user = await ts.client("fsclient");
    const fs = new FsClient(user.sys, { waitMs: 30_000, timeoutMs: 10_000 });
    await fs.writeFile("/before-both", "kept across both deaths");
    const mfsGen = async () => {
      const row = (await table()).mfs;
      return row?.state === "ready" ? Number(row.endpoint.split("#")[1]) : 0;
    };
    const before = await mfsGen();
    ts.sys.kill("mfs", "SIGKILL");
    const once = await waitUntil(async () => ((await mfsGen()) > before ? mfsGen() : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "mfs restarted once",
    });
    await fs.readFile("/before-both"); // vfs knows mfs#once now
    const kernelPid = ts.sys.kill("kernel", "SIGKILL");
    const mfsPid = ts.sys.kill("mfs", "SIGKILL");
    await waitUntil(() => (pidAlive(mfsPid) || pidAlive(kernelPid) ? undefined : true), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "kernel-core and mfs gone",
    });
    await mkctl("start", "kernel");
    const t0 = Date.now();
    expect((await fs.readFile("/before-both")).toString()).toBe("kept across both deaths");
    await fs.writeFile("/after-both", "written after");
    expect((await fs.readFile("/after-both")).toString()).toBe("written after");
    const after = await mfsGen();
    expect(after).toBeGreaterThan(once);
    console.log(
      `kernel-core and mfs killed together: mfs#${once} -> mfs#${after}; file calls through vfs answered again ${Date.now() - t0} ms after the new kernel was up`,
    );
    await user.stop();
  });

  // After every test above, in whatever order they ran: the demo workload went on through every restart above: one set of workers, no operation failed, no byte wrong.
  afterAll(async () => {
    const watch = await ts.client("wlwatch");
    const stats = async () =>
      parseReplyArgs(Workload.WORKLOAD_STATS, (await watch.sys.sendrec("workload", Workload.WORKLOAD_STATS, {})).args);
    const first = await stats();
    await waitUntil(async () => ((await stats()).ops > first.ops + 20 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the workload going on",
    });
    const s = await stats();
    expect(s, `the workload's last error: ${s.last_error}`).toMatchObject({ failed: 0, bytes_wrong: 0 });
    expect(s.bytes_verified).toBeGreaterThan(0);
    const log = readFileSync(join(ts.sys.state.runDir, "logs", "workload.log"), "utf8");
    expect(log.match(/"msg":"demo workload started/g)).toHaveLength(1);
    await watch.stop();
  });

  it("hardware emulator killed and started again: the PIT ticks again and tty input works, without restarting tty", async () => {
    const ttyPid = ts.sys.pids().tty;
    const hwPid = ts.sys.kill("hardware", "SIGKILL");
    await waitUntil(() => (pidAlive(hwPid) ? undefined : true), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the emulator's process gone",
    });
    const { stdout } = await mkctl("start", "hardware");
    expect(stdout).toMatch(/^hardware: started pid \d+/);
    const ticks = await irqCount(0);
    await waitUntil(async () => ((await irqCount(0)) > ticks + 20 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "PIT ticks after the machine restarted",
    });
    await waitUntil(async () => (await fetch(`${ts.sys.state.kernelHttp}/readyz`)).ok || undefined, {
      clock: systemClock,
      deadlineMs: 5000,
      what: "/readyz",
    });
    expect(await typeLine("after a machine restart")).toBe("after a machine restart\n");
    expect(ts.sys.pids().tty).toBe(ttyPid);
    const disk = new BdevClient(client.sys, "ata");
    expect((await disk.read(0, 8)).length).toBe(4096);
  });
});

/** Types a line on the console and reads it through tty (retrying while the UART is set up again). */
async function typeLine(text: string): Promise<string> {
  const console = await ts.raw("client");
  return waitUntil(
    async () => {
      const reading = client.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 100, timeoutMs: 1500 });
      console.publish(Subjects.consoleIn, new TextEncoder().encode(`${text}\n`));
      const r = await reading;
      return new TextDecoder().decode(r.data);
    },
    { clock: systemClock, deadlineMs: 10_000, what: `the line "${text}" read through tty` },
  );
}
