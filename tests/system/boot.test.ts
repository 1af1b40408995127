// Process-mode boot, end to end: every part its own OS process over real NATS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { headers } from "@nats-io/transport-node";
import { Bdev, Cdev, H, Subjects } from "#abi";
import { BdevClient, sysGetEndpoints } from "#libsys";
import { pidAlive } from "../../services/boot/src/boot.ts";
import { findNatsServer } from "../../services/boot/src/nats-server.ts";
import { freePort } from "#boot";
import { connectNats } from "#base/nats-connect.ts";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { bootTestSystem, pattern, ROOT, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;

describe("boot", () => {
  beforeAll(async () => {
    ts = await bootTestSystem({ env: { MK_LOG_LEVEL: "debug" } });
  });
  afterAll(async () => {
    await ts?.down();
  });

  it("boot - every service is ready in the endpoint table, each its own process", async () => {
    const c = await ts.client();
    const eps = await sysGetEndpoints(c.sys);
    const byLabel = Object.fromEntries(eps.map((e) => [e.label, e]));
    expect(byLabel.kernel.state).toBe("ready");
    expect(byLabel.ata).toMatchObject({ endpoint: "ata#1", state: "ready", placement: "user", pid: ts.sys.pids().ata });
    expect(byLabel.ata.privileges).toEqual({
      ipc: [],
      calls: ["vdevio", "sdevio", "devio", "irqctl"],
      io: ["0x1f0-0x1f7", "0x3f6"],
      irq: [14],
      console: false,
      events: false,
      metrics: false,
      chaos: false,
    });
    expect(byLabel.tty).toMatchObject({ endpoint: "tty#1", state: "ready", placement: "user", pid: ts.sys.pids().tty });
    expect(new Set([ts.sys.pids().ata, ts.sys.pids().tty, ts.sys.pids().kernel, ts.sys.pids().hardware]).size).toBe(4);
  });

  it("boot - a container's healthcheck (bash, no Node) is healthy only for a ready incarnation on its own host", async () => {
    const port = new URL(ts.sys.state.kernelHttp).port;
    const check = (path: string) =>
      spawnSync("bash", [join(ROOT, "services/mkctl/healthcheck.sh"), "127.0.0.1", port, path], { timeout: 10_000 }).status;
    expect(check("/endpoints/ata/ready?host={host}")).toBe(0); // every test process runs on this host
    expect(check("/endpoints/ata/ready?host=elsewhere")).toBe(1);
    expect(check("/endpoints/nosuch/ready")).toBe(1);
    expect(check("/readyz")).toBe(0);
    const r = await fetch(`${ts.sys.state.kernelHttp}/endpoints/ata/ready?host=${encodeURIComponent(hostname())}`);
    expect(await r.json()).toEqual({ ready: true, endpoint: "ata#1", state: "ready", host: hostname() });
    expect((await fetch(`${ts.sys.state.kernelHttp}/endpoints/nosuch/ready`)).status).toBe(404);
    expect(
      spawnSync("bash", [join(ROOT, "services/mkctl/healthcheck.sh"), "127.0.0.1", "1", "/readyz"], { timeout: 10_000 }).status,
    ).not.toBe(0); // nothing listens
  });

  it("boot - /healthz, /readyz and /metrics answer on kernel-core", async () => {
    expect((await fetch(`${ts.sys.state.kernelHttp}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${ts.sys.state.kernelHttp}/readyz`)).json()).toMatchObject({ ready: true, hardware: true });
    const metrics = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
    expect(metrics).toMatch(/mk_kernel_calls_total\{call="vdevio",result="ok"\} [1-9]/);
    expect(metrics).toMatch(/mk_ipc_latency_seconds_bucket\{le="0.001",type="SYS_VDEVIO"\}/);
    expect(metrics).toMatch(/mk_irqs_total\{line="0"\} [1-9]/); // the PIT ticks
  });

  it("ata - data written through the driver reads back, across a flush", async () => {
    const c = await ts.client();
    const disk = new BdevClient(c.sys, "ata");
    await disk.openMinor(0);
    const geo = await disk.geometry();
    expect(geo).toMatchObject({ sectors: 32768, sectorSize: 512, model: "MKOS EMULATED ATA DISK" });
    const data = pattern(100, 300); // more than one ATA command (256 sectors max)
    await disk.write(100, data);
    await disk.flush();
    expect(Buffer.from(await disk.read(100, 300)).equals(Buffer.from(data))).toBe(true);
  });

  it("ata - past the disk's end is no one's: a read or write there, or at 2^28 + a file-system sector (LBA28 would wrap onto it), is refused and changes nothing", async () => {
    const c = await ts.client();
    const disk = new BdevClient(c.sys, "ata");
    const minixFirst = 16384; // the test disk's 32768 sectors: minix is the second half
    const image = () => readFileSync(join(ts.dir, "disk.img")).subarray(minixFirst * 512, (minixFirst + 8) * 512);
    const before = Buffer.from(image());
    await expect(disk.read(32768, 2)).rejects.toMatchObject({ errno: "EPERM" });
    await expect(disk.read(32767, 2)).rejects.toMatchObject({ errno: "EPERM" });
    await expect(disk.write(2 ** 28 + minixFirst, new Uint8Array(8 * 512).fill(0x41))).rejects.toMatchObject({ errno: "EPERM" });
    await expect(disk.read(2 ** 28 + minixFirst, 8)).rejects.toMatchObject({ errno: "EPERM" });
    await disk.flush();
    expect(Buffer.compare(image(), before)).toBe(0);
  });

  it("tty - a written line comes out of the UART on the console", async () => {
    const c = await ts.client();
    const console = await ts.raw("client");
    const got = new Promise<string>((resolve) => {
      let acc = "";
      console.subscribe(Subjects.consoleOut, {
        callback: (_e, m) => {
          acc += new TextDecoder().decode(m.data);
          if (acc.includes("\n")) resolve(acc);
        },
      });
    });
    await console.flush();
    const r = await c.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new TextEncoder().encode("hello from mkos\n"));
    expect(r.args).toEqual({ count: 16 });
    expect(await got).toBe("hello from mkos\n");
  });

  it("tty - a line typed on the console is read through the driver", async () => {
    const c = await ts.client();
    const console = await ts.raw("client");
    // Typed before or after the read arrives, the line waits in tty's buffer: no pause needed.
    const reading = c.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 100, timeoutMs: 10_000 });
    console.publish(Subjects.consoleIn, new TextEncoder().encode("ls -l\nsecond"));
    const r = await reading;
    expect(new TextDecoder().decode(r.data)).toBe("ls -l\n");
  });

  it("logs - one request is followed across kernel-core and the driver by its reqId, and into the driver's nested kernel calls by its trace id", async () => {
    await ts.client();
    const nc = await ts.raw("client");
    const h = headers();
    h.set(H.type, String(Bdev.BDEV_READ));
    h.set(H.dst, "ata");
    h.set(H.req, "trace-me-42");
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    h.set(H.trace, `00-${traceId}-00f067aa0ba902b7-01`);
    h.set(H.args, JSON.stringify({ minor: 0, lba: 0, count: 1 }));
    const m = await nc.request(Subjects.trap("client"), undefined, { headers: h, timeout: 5000 });
    expect(m.headers?.get(H.status)).toBe("0");
    expect(m.headers?.get(H.hops)).toMatch(/^kernel@\d+,ata@\d+,kernel@\d+$/);
    const lines = (name: string) =>
      readFileSync(join(ts.sys.state.runDir, "logs", `${name}.log`), "utf8")
        .split("\n")
        .filter((l) => l.includes("trace-me-42"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    // The kernel logs a trap after it has answered it.
    await waitUntil(() => (lines("kernel").length > 0 && lines("ata").length > 0 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the request's lines in kernel.log and ata.log",
    });
    expect(lines("kernel")).toEqual([
      expect.objectContaining({
        svc: "kernel-core",
        endpoint: "kernel#1",
        msgType: "BDEV_READ",
        reqId: "trace-me-42",
        caller: "client",
        status: 0,
      }),
    ]);
    expect(lines("ata")).toEqual([
      expect.objectContaining({
        svc: "ata",
        endpoint: "ata#1",
        msgType: "BDEV_READ",
        reqId: "trace-me-42",
        source: expect.stringMatching(/^client#\d+$/),
      }),
    ]);
    // The driver's nested kernel calls made for this request carry its trace id (a span each).
    const kernelLines = readFileSync(join(ts.sys.state.runDir, "logs", "kernel.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes(traceId))
      .map((l) => JSON.parse(l) as { msgType: string; caller: string; trace: string });
    const nested = kernelLines.filter((l) => l.caller === "ata");
    expect(nested.length).toBeGreaterThan(0);
    for (const l of nested)
      expect(l).toMatchObject({
        msgType: expect.stringMatching(/^SYS_(V|S)?DEVIO$/),
        trace: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`)),
      });
  });
});

// Its own system: a full down ends every process, which no other test may meet.
describe("mkctl down", () => {
  beforeAll(async () => {
    ts = await bootTestSystem();
  });
  afterAll(async () => {
    await ts?.down();
  });

  it("mkctl - ps --json prints the endpoint table; down leaves no process behind", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const run = async (...args: string[]) =>
      (
        await promisify(execFile)(process.execPath, ["services/mkctl/src/main.ts", ...args, "--run-dir", ts.sys.state.runDir], {
          cwd: join(import.meta.dirname, "../.."),
        })
      ).stdout;
    const out = await run("ps", "--json");

    const table = JSON.parse(out) as { endpoints: { endpoint: string; state: string }[] };
    expect(table.endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ endpoint: "ata#1", state: "ready" }),
        expect.objectContaining({ endpoint: "kernel#1" }),
      ]),
    );
    const text = await run("ps");
    expect(text).toMatch(/^ENDPOINT\s+STATE\s+PLACEMENT\s+PID/);
    expect(text).toMatch(/\ntty#1\s+ready\s+user\s+\d+/);
    const pids = Object.values(ts.sys.pids());
    expect(await run("down")).toMatch(/every process stopped/);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    // After a full down, ps says nothing runs (mkctl up), not that the kernel alone is away.
    await expect(ts.sys.endpointsOrExplain()).rejects.toMatchObject({ code: "MK_ERR_NO_SYSTEM" });
    const ps = spawnSync(process.execPath, ["services/mkctl/src/main.ts", "ps", "--run-dir", ts.sys.state.runDir], {
      cwd: join(import.meta.dirname, "../.."),
      encoding: "utf8",
    });
    expect(ps.status).toBe(69);
  });
});

// Compose starts nats-server beside kernel-core and the emulator, not before them.
describe("first connection to NATS", () => {
  it("boot - a first connection asked to wait finds a nats-server started after it; a tool's is refused at once", async () => {
    const port = await freePort();
    const cred = { user: "kernel", password: "not-checked-here", servers: [`nats://127.0.0.1:${port}`] };
    const refused = Date.now();
    await expect(connectNats("tool", cred)).rejects.toMatchObject({ name: "ConnectionError" });
    expect(Date.now() - refused).toBeLessThan(2000);
    const asked = Date.now();
    const waiting = connectNats("kernel", cred, undefined, { waitMs: 10_000 });
    await systemClock.sleep(600); // pacing: the server comes up after the party asked
    const server = spawn(findNatsServer()!, ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    try {
      const nc = await waiting;
      expect(Date.now() - asked).toBeGreaterThanOrEqual(600);
      await nc.flush();
      await nc.close();
    } finally {
      server.kill("SIGKILL");
    }
  });
});
