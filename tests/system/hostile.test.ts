// mkos attacked as a hostile user and a hostile driver would: oversized and malformed
// envelopes up to the server's payload limit, unbounded counts, floods of waiters and
// sends, messages that make a process log. Every class is attacked with varied sizes and
// shapes (fast-check where it fits). Afterwards every process is the same one, still
// answers within a bound, and stays under a memory ceiling.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { connect, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bdev, Cdev, Common, errnoName, H, MAX_PAYLOAD, Subjects, SysCall } from "#abi";
import { systemClock } from "#base/clock.ts";
import { connectNats } from "#base/nats-connect.ts";
import { waitUntil } from "#base/wait.ts";
import { BdevClient, loadCredential, sysGetEndpoints, sysVdevio, type RunningService } from "#libsys";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

/** RSS ceiling for kernel-core, the emulator and each driver after every attack. */
const RSS_CEILING_MB = 400;
/** A normal request must still be answered within this after every attack. */
const ANSWER_MS = 2000;

let ts: TestSystem;
let client: RunningService;
let nc: NatsConnection;
let pids: Record<string, number>;

beforeAll(async () => {
  ts = await bootTestSystem();
  client = await ts.client();
  nc = await ts.raw("client");
  pids = ts.sys.pids();
});
afterAll(async () => {
  await ts?.down();
});

function trap(hdrs: Record<string, string>, body?: Uint8Array, user = nc, label = "client"): Promise<Msg> {
  const h = headers();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return user.request(Subjects.trap(label), body, { headers: h, timeout: 5000 });
}

function status(m: Msg): { status: number; errname?: string } {
  return { status: Number(m.headers?.get(H.status)), errname: m.headers?.get(H.errname) };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Every process is the one booted, and the disk answers a 4 KiB read within ANSWER_MS. */
async function stillWhole(): Promise<void> {
  expect(ts.sys.alive()).toMatchObject({ kernel: true, hardware: true, ata: true, tty: true, nats: true });
  for (const name of ["kernel", "hardware", "ata", "tty"]) expect(ts.sys.pids()[name], name).toBe(pids[name]);
  const t0 = Date.now();
  const disk = new BdevClient(client.sys, "ata", { timeoutMs: ANSWER_MS });
  expect((await disk.read(0, 8)).length).toBe(4096);
  expect(Date.now() - t0).toBeLessThan(ANSWER_MS);
}

describe("hostile", () => {
  it("hostile user - an oversized header of any size, to the kernel, is refused with an errno; nothing is echoed back", async () => {
    for (const size of [1025, 8_000, 100_000, 500_000, 1_000_000]) {
      for (const name of [H.hops, H.req, H.src, H.dst, H.trace, "X-Junk"]) {
        const big = "x".repeat(size);
        const r = await trap(
          { [H.type]: String(Bdev.BDEV_READ), [H.dst]: "ata", [H.args]: '{"minor":0,"lba":0,"count":1}', [name]: big },
          new Uint8Array(Math.max(0, MAX_PAYLOAD - size - 4096)),
        );
        const s = status(r);
        if (name === "X-Junk" || name === H.trace)
          expect([0, -107]).toContain(s.status); // not copied: ignored (or the body is refused)
        else expect(s.errname, `${name} of ${size}`).toBe("EBADREQUEST");
        expect(r.headers ? [...r.headers.keys()].map((k) => r.headers!.get(k).length).reduce((a, b) => a + b, 0) : 0).toBeLessThan(4096);
      }
    }
    await stillWhole();
  });

  it("hostile user - a reply that would outgrow the payload limit comes back as an error reply, not silence", async () => {
    // A 1024-sector read is 512 KiB of data: with a trail at its bound it still fits.
    const r = await trap({
      [H.type]: String(Bdev.BDEV_READ),
      [H.dst]: "ata",
      [H.args]: '{"minor":0,"lba":0,"count":1024}',
      [H.hops]: `a@1,${"b".repeat(1000)}@2`,
    });
    expect(status(r).status).toBe(0);
    expect(r.data.length).toBe(512 * 1024);
    await stillWhole();
  });

  it("hostile kernel neighbour - garbage published straight onto the driver's endpoint with huge headers gets an error reply; the driver lives", async () => {
    const kernelNc = await ts.raw("kernel");
    const ep = (await sysGetEndpoints(client.sys)).find((e) => e.label === "ata")!;
    for (const size of [2_000, 300_000, 900_000]) {
      const h = headers();
      h.set(H.type, String(Bdev.BDEV_READ));
      h.set(H.args, '{"minor":0,"lba":0,"count":1024}');
      h.set(H.hops, "h".repeat(size));
      h.set(H.src, "client#1");
      const m = await kernelNc.request(Subjects.endpoint("ata", ep.generation), undefined, { headers: h, timeout: 5000 });
      expect(status(m).errname).toBe("EBADREQUEST");
    }
    await stillWhole();
  });

  it("hostile driver - replies with huge headers, bodies, bad status and arguments reach the caller as EIO or EMSGSIZE; the kernel lives", async () => {
    const echoNc = await ts.raw("echo");
    const hello = await trap(
      { [H.type]: String(SysCall.SYS_HELLO), [H.dst]: "kernel", [H.args]: JSON.stringify({ pid: 1, host: "evil" }) },
      undefined,
      echoNc,
      "echo",
    );
    const gen = JSON.parse(hello.headers!.get(H.args)).generation as number;
    let mode = 0;
    echoNc.subscribe(Subjects.endpoint("echo", gen), {
      callback: (_e, m) => {
        const h = headers();
        const k = mode++ % 5;
        if (k === 0) {
          h.set(H.status, "0");
          h.set(H.hops, "z".repeat(900_000));
          m.respond(new Uint8Array(100_000), { headers: h });
        }
        if (k === 1) {
          h.set(H.status, "0");
          h.set(H.args, JSON.stringify({ pad: "y".repeat(900_000) }));
          m.respond(undefined, { headers: h });
        }
        if (k === 2) {
          h.set(H.status, "-5");
          h.set(H.errname, "E".repeat(500_000));
          h.set(H.errmsg, "m".repeat(400_000));
          m.respond(undefined, { headers: h });
        }
        if (k === 3) {
          h.set(H.status, "banana");
          m.respond(new Uint8Array(10), { headers: h });
        }
        if (k === 4) {
          h.set(H.status, "0");
          h.set(H.args, "{");
          m.respond(new Uint8Array(MAX_PAYLOAD - 8192), { headers: h });
        }
      },
    });
    await echoNc.flush();
    await trap({ [H.type]: String(SysCall.SYS_READY), [H.dst]: "kernel", [H.src]: `echo#${gen}` }, undefined, echoNc, "echo");
    for (let i = 0; i < 5; i++) {
      const r = await trap({ [H.type]: String(Common.COMMON_PING), [H.dst]: "echo", [H.timeout]: "3000" });
      const s = status(r);
      expect(r.data.length + [...(r.headers?.keys() ?? [])].map((k) => r.headers!.get(k).length).reduce((a, b) => a + b, 0)).toBeLessThan(
        MAX_PAYLOAD,
      );
      if (s.status !== 0) expect(errnoName(s.status), `reply ${i}`).toBeDefined();
      // What the caller gets is bounded: never the 900 KB trail or a 500 KB error name.
      expect(r.headers?.get(H.hops)?.length ?? 0).toBeLessThanOrEqual(1024);
      expect(r.headers?.get(H.errname)?.length ?? 0).toBeLessThan(32);
      expect(r.headers?.get(H.errmsg)?.length ?? 0).toBeLessThanOrEqual(512);
    }
    await stillWhole();
  });

  it("hostile driver - vdevio counts past their bounds are EBADREQUEST at the kernel; the bus keeps answering and /readyz says so", async () => {
    const rogue = await ts.client("rogue");
    const attempts: [string, number, number][][] = [
      [["insw", 0x2f8, 2 ** 32 - 1]],
      [["insl", 0x2f8, 65537]],
      Array.from({ length: 256 }, () => ["insw", 0x2f8, 65535] as [string, number, number]),
      Array.from({ length: 5 }, () => ["insl", 0x2f8, 65536] as [string, number, number]),
    ];
    for (const ops of attempts) {
      await expect(sysVdevio(rogue.sys, ops as never)).rejects.toMatchObject({ errno: "EBADREQUEST" });
    }
    // The largest vector allowed is answered in full.
    const max = await sysVdevio(rogue.sys, [["insl", 0x2f8, 65536]]);
    expect(max.data.length).toBe(256 * 1024);
    const ready = await (await fetch(`${ts.sys.state.kernelHttp}/readyz`)).json();
    expect(ready).toMatchObject({ ready: true, hardware: true });
    await stillWhole();
  });

  it("hostile user - random envelopes and bodies up to the payload limit (fast-check) always get an errno reply", async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.integer({ min: -5, max: 0x2000 }).map(String),
      fc.json({ maxDepth: 3 }),
      fc.integer({ min: 1, max: 200_000 }).map((n) => "v".repeat(n)),
    );
    const name = fc.constantFrom(H.type, H.dst, H.args, H.req, H.hops, H.kind, H.timeout, H.src, H.trace, "X-Other");
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(name, value, { maxKeys: 6 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }),
          fc.integer({ min: 0, max: 600_000 }).map((n) => new Uint8Array(n)),
        ),
        async (hd, body) => {
          const hdrs: Record<string, string> = {};
          for (const [k, v] of Object.entries(hd)) {
            const clean = v.replace(/[\r\n\0]/g, "").trim();
            if (clean) hdrs[k] = clean;
          }
          let r: Msg;
          try {
            r = await trap(hdrs, body);
          } catch (e) {
            // The only permitted failure is the client library refusing to send over max_payload.
            expect(String(e)).toMatch(/max_payload|MAX_PAYLOAD/i);
            return;
          }
          const s = status(r);
          expect(Number.isInteger(s.status)).toBe(true);
          if (s.status !== 0) expect(errnoName(s.status)).toBeDefined();
        },
      ),
      { numRuns: 120 },
    );
    await stillWhole();
  });

  it("hostile user - getinfo waiters: a body is refused, at most 64 wait per caller (EAGAIN), and they go when the caller does", async () => {
    const r = await trap(
      {
        [H.type]: String(SysCall.SYS_GETINFO),
        [H.dst]: "kernel",
        [H.args]: JSON.stringify({ what: "endpoint", label: "tty", after: 999, waitMs: 600_000 }),
      },
      new Uint8Array(1_000_000),
    );
    expect(status(r).errname).toBe("EBADREQUEST");
    // Named as libsys names a connection (`<label>.<nonce>`, the nonce given in SYS_HELLO), so the kernel knows whose it is.
    const flooder = await connectNats("client2.flood42", loadCredential(ts.sys.credFile("client2")), "_INBOX.client2");
    await trap(
      { [H.type]: String(SysCall.SYS_HELLO), [H.dst]: "kernel", [H.args]: JSON.stringify({ pid: 2, host: "flood", conn: "flood42" }) },
      undefined,
      flooder,
      "client2",
    );
    const h = headers();
    h.set(H.type, String(SysCall.SYS_GETINFO));
    h.set(H.dst, "kernel");
    h.set(H.args, JSON.stringify({ what: "endpoint", label: "tty", after: 999, waitMs: 600_000 }));
    const replies: Promise<Msg>[] = [];
    for (let i = 0; i < 200; i++) replies.push(flooder.request(Subjects.trap("client2"), undefined, { headers: h, timeout: 60_000 }));
    // The 136 past the limit are refused at once.
    const refused = await Promise.race([
      Promise.all(replies.slice(64)),
      new Promise<never>((_, j) => setTimeout(() => j(new Error("not refused at once")), 5000)),
    ]);
    for (const m of refused) expect(status(m).errname).toBe("EAGAIN");
    const metrics = async () => await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
    expect(await metrics()).toMatch(/^mk_waiters 64$/m);
    await flooder.close();
    await waitUntil(async () => (/^mk_waiters 0$/m.test(await metrics()) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the departed caller's waiters dropped (mk_waiters 0)",
    });
    await stillWhole();
  });

  it("hostile user - a flood of 64 KiB sends cannot starve another caller's 4 KiB reads, and the driver's memory stays bounded", async () => {
    const flood = await ts.client("client2");
    const body = new Uint8Array(64 * 1024);
    let stop = false;
    let sent = 0;
    let refused = 0;
    const flooders = Array.from({ length: 32 }, async () => {
      while (!stop) {
        try {
          await flood.sys.send("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 4096, count: 128 }, body);
          sent++;
        } catch (e) {
          if ((e as { errno?: string }).errno !== "EAGAIN") throw e;
          refused++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    });
    const disk = new BdevClient(client.sys, "ata");
    const lat: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 4000) {
      const s = Date.now();
      await disk.read(0, 8);
      lat.push(Date.now() - s);
    }
    stop = true;
    await Promise.all(flooders);
    lat.sort((a, b) => a - b);
    console.log(
      `flood: ${sent} sends of 64 KiB queued, ${refused} refused with EAGAIN; the other caller's 4 KiB reads: n=${lat.length} p50=${lat[lat.length >> 1]} ms max=${lat[lat.length - 1]} ms; ata RSS ${rssMb(ts.sys.pids().ata).toFixed(0)} MB`,
    );
    expect(sent).toBeGreaterThan(0);
    expect(lat[lat.length - 1]).toBeLessThan(ANSWER_MS);
    expect(rssMb(ts.sys.pids().ata)).toBeLessThan(RSS_CEILING_MB);
    await stillWhole();
  });

  it("hostile user - what one message (or thousands of hellos) makes a process log is bounded", async () => {
    const hwLog = join(ts.sys.state.runDir, "logs", "hardware.log");
    const kLog = join(ts.sys.state.runDir, "logs", "kernel.log");
    const hw0 = statSync(hwLog).size;
    // The emulator logs console output as the UART sends it, before the write is answered.
    await client.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new Uint8Array(1_000_000).fill(0x41));
    const hwGrowth = statSync(hwLog).size - hw0;
    const k0 = statSync(kLog).size;
    const flooder = await ts.raw("client2");
    for (let i = 0; i < 3000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          trap(
            { [H.type]: String(SysCall.SYS_HELLO), [H.dst]: "kernel", [H.args]: JSON.stringify({ pid: 3, host: "h" }) },
            undefined,
            flooder,
            "client2",
          ),
        ),
      );
    }
    // The kernel logs a hello before it answers it.
    const kGrowth = statSync(kLog).size - k0;
    console.log(
      `logs: a 1 MB CDEV_WRITE added ${hwGrowth} bytes to the emulator's log; 3000 SYS_HELLOs added ${kGrowth} bytes to the kernel's`,
    );
    expect(hwGrowth).toBeLessThan(16 * 1024);
    expect(kGrowth).toBeLessThan(16 * 1024);
    await stillWhole();
  });

  it("hostile user - fresh instance ids buy a flood nothing: 20,000 traps, each from a new mkctl.<id>, are queued and dropped by the label; another caller's read still answers; a hello without its connection, or resuming a generation never issued, is refused", async () => {
    const mkctl = await ts.raw("mkctl");
    const rss0 = rssMb(pids.kernel);
    const h = headers();
    h.set(H.type, String(Bdev.BDEV_READ));
    h.set(H.dst, "ata");
    h.set(H.kind, "send");
    h.set(H.args, '{"minor":0,"lba":0,"count":1}');
    const id = (i: number) => i.toString(36).padStart(8, "0");
    for (let i = 0; i < 20_000; i++) {
      mkctl.publish(Subjects.trap(`mkctl.${id(i)}`), new Uint8Array(4096), { headers: h });
      if (i % 1000 === 999) await mkctl.flush();
    }
    await mkctl.flush();
    await stillWhole();
    expect(rssMb(pids.kernel) - rss0).toBeLessThan(100);
    // An instance must name its NATS connection (its death is seen by it).
    const hello = (label: string, args: Record<string, unknown>, nc = mkctl) =>
      new Promise<{ status: number; errname?: string }>((resolve, reject) => {
        const hh = headers();
        hh.set(H.type, String(SysCall.SYS_HELLO));
        hh.set(H.dst, "kernel");
        hh.set(H.args, JSON.stringify(args));
        nc.request(Subjects.trap(label), undefined, { headers: hh, timeout: 5000 }).then((m) => resolve(status(m)), reject);
      });
    const c = loadCredential(ts.sys.credFile("mkctl"));
    const asInstance = await connect({ servers: c.servers, user: c.user, pass: c.password, inboxPrefix: "_INBOX.mkctl.zzzzzzzz" });
    expect(await hello("mkctl.zzzzzzzz", { pid: 1, host: "h" }, asInstance)).toMatchObject({ errname: "EINVAL" });
    await asInstance.close();
    // A resume of a generation the kernel never issued (it would spend the label's numbers).
    const client2 = await ts.raw("client2");
    expect(await hello("client2", { pid: 1, host: "h", resume: 999_999_999 }, client2)).toMatchObject({ errname: "EDEADSRCDST" });
  });

  // After every test above, in whatever order they ran: after every attack each process is the one booted, answers, and is under the memory ceiling.
  afterAll(async () => {
    await stillWhole();
    const rss = Object.fromEntries(["kernel", "hardware", "ata", "tty"].map((n) => [n, Math.round(rssMb(ts.sys.pids()[n]))]));
    console.log(`RSS after the attacks (MB): ${JSON.stringify(rss)}`);
    for (const [n, mb] of Object.entries(rss)) expect(mb, n).toBeLessThan(RSS_CEILING_MB);
  });
});
