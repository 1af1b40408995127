// Garbage, wrong types, oversized bodies, unknown types and truncated sectors, sent to
// the kernel trap and to a driver's endpoint, get an EBADREQUEST-style error reply from
// the errno registry, and every process stays up (same pids, same generations).
import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bdev, Cdev, Errno, H, MAX_BODY, Subjects, SysCall, errnoName } from "#abi";
import { BdevClient, sysGetEndpoints, sysHwfault } from "#libsys";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let nc: NatsConnection;

// A client that may also inject hardware faults (a bad sector under a vectored write).
const HW_CLIENT = `
  hwclient:
    ipc: [ata]
    block: { ata: { raw: rw } }
    calls: [getinfo, hwfault]
`;

beforeAll(async () => {
  ts = await bootTestSystem({ services: HW_CLIENT });
  nc = await ts.raw("client");
  await ts.client(); // registers client#1 so its traps are accepted
});
afterAll(async () => {
  await ts?.down();
});

const GETINFO = String(SysCall.SYS_GETINFO);

async function trap(hdrs: Record<string, string>, body?: Uint8Array): Promise<Msg> {
  const h = headers();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return nc.request(Subjects.trap("client"), body, { headers: h, timeout: 5000 });
}

function status(m: Msg): { status: number; errname?: string; errmsg?: string } {
  return { status: Number(m.headers?.get(H.status)), errname: m.headers?.get(H.errname), errmsg: m.headers?.get(H.errmsg) };
}

describe("bad input", () => {
  it("bad input - malformed envelopes to the kernel trap answer EBADREQUEST naming the fault", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /missing Mk-Type/],
      [{ [H.type]: "abc", [H.dst]: "kernel" }, /not a decimal number/],
      [{ [H.type]: String(0x9999), [H.dst]: "kernel" }, /unknown message type 0x9999/],
      [{ [H.type]: String(0x615), [H.dst]: "kernel", [H.args]: "{not json" }, /not valid JSON/],
      [
        { [H.type]: GETINFO, [H.dst]: "kernel", [H.args]: JSON.stringify({ what: 7 }) },
        /argument what: expected one of endpoints\|endpoint\|privileges\|processes, got 7/,
      ],
      [
        { [H.type]: GETINFO, [H.dst]: "kernel", [H.args]: JSON.stringify({ what: "endpoint", label: "ATA; rm" }) },
        /argument label: .* does not match/,
      ],
      [
        { [H.type]: GETINFO, [H.dst]: "kernel", [H.args]: JSON.stringify({ what: "endpoint", label: "ata", waitMs: 1e9 }) },
        /argument waitMs: 1000000000 is outside 0..600000/,
      ],
      [
        { [H.type]: GETINFO, [H.dst]: "kernel", [H.args]: JSON.stringify({ what: "endpoints", extra: 1 }) },
        /argument extra: unknown argument/,
      ],
      [{ [H.type]: GETINFO, [H.dst]: "kernel", [H.args]: "[1,2,3]" }, /argument \(root\): expected an object, got a list/],
      [{ [H.type]: String(0x615), [H.args]: "{}" }, /missing Mk-Dst/],
      [{ [H.type]: String(0x615), [H.dst]: "kernel", [H.timeout]: "soon" }, /Mk-Timeout/],
      [{ [H.type]: String(0x615), [H.dst]: "kernel", [H.kind]: "teleport" }, /Mk-Kind/],
      [{ [H.type]: String(Bdev.BDEV_READ), [H.dst]: "kernel" }, /BDEV_READ is not a kernel call/],
    ];
    for (const [hdrs, why] of cases) {
      const r = status(await trap(hdrs));
      expect(r.status, JSON.stringify(hdrs)).toBe(Errno.EBADREQUEST);
      expect(r.errname).toBe("EBADREQUEST");
      expect(r.errmsg).toMatch(why);
    }
    const bad = status(await trap({ [H.type]: String(Bdev.BDEV_READ), [H.dst]: "no such thing!" }));
    expect(bad.errname).toBe("EBADSRCDST");
    // Privileges are checked before arguments: a call not granted is refused whatever it carries.
    const denied = status(await trap({ [H.type]: String(SysCall.SYS_DEVIO), [H.dst]: "kernel", [H.args]: '{"op":1}' }));
    expect(denied.errname).toBe("ECALLDENIED");
  });

  it("bad input - an oversized body is refused before it is routed", async () => {
    const r = status(await trap({ [H.type]: String(Bdev.BDEV_WRITE), [H.dst]: "ata" }, new Uint8Array(MAX_BODY + 1)));
    expect(r).toMatchObject({ errname: "EBADREQUEST", errmsg: expect.stringMatching(/exceeds/) });
  });

  it("bad input - a vectored write past the disk's end, with an empty extent, over the limit or overlapping itself is EINVAL and writes nothing", async () => {
    const c = await ts.client();
    const disk = new BdevClient(c.sys, "ata");
    await disk.openMinor(0);
    const { sectors } = await disk.geometry(0);
    const before = await disk.read(10, 8);
    const sector = (v: number) => new Uint8Array(512).fill(v);
    const cases: [string, { lba: number; count: number }[], number][] = [
      [
        "past the end",
        [
          { lba: 10, count: 1 },
          { lba: sectors - 1, count: 2 },
        ],
        3,
      ],
      [
        "an empty extent",
        [
          { lba: 10, count: 1 },
          { lba: 12, count: 0 },
        ],
        1,
      ],
      [
        "overlapping",
        [
          { lba: 10, count: 4 },
          { lba: 13, count: 2 },
        ],
        6,
      ],
      ["no extents", [], 0],
      ["a barrier past the extents", [{ lba: 10, count: 1 }], 1],
    ];
    for (const [what, extents, n] of cases) {
      const barrier = what.startsWith("a barrier") ? { barrier: 2 } : {};
      const err = await c.sys
        .sendrec("ata", Bdev.BDEV_WRITEV, { minor: 0, extents, ...barrier, flush: true }, new Uint8Array(n * 512).fill(0xee))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, what).toMatchObject({ errno: "EINVAL" });
    }
    // More sectors than one request carries: EINVAL from the driver, naming the limit.
    const many = Array.from({ length: 4 }, (_, i) => ({ lba: 10 + i * 200, count: 200 }));
    await expect(c.sys.sendrec("ata", Bdev.BDEV_WRITEV, { minor: 0, extents: many }, new Uint8Array(800 * 512))).rejects.toMatchObject({
      errno: "EINVAL",
      detail: { arg: "extents", limit: 512, got: 800 },
    });
    expect(await disk.read(10, 8)).toEqual(before);
    // And a good one: three extents in one request, in order, then the flush.
    await disk.writev(
      [
        { lba: 16, data: sector(3) },
        { lba: 10, data: new Uint8Array(1024).fill(1) },
        { lba: 13, data: sector(2) },
      ],
      { flush: true },
    );
    const back = await disk.read(10, 7);
    expect([...back].filter((_, i) => i % 512 === 0)).toEqual([1, 1, before[1024], 2, before[4 * 512], before[5 * 512], 3]);
  });

  it("bad input - a vectored write holds its barrier: with an extent before it on a bad sector, nothing after it reaches the disk", async () => {
    const hw = await ts.client("hwclient");
    const disk = new BdevClient(hw.sys, "ata", { waitMs: 5000, maxRetries: 3 });
    await disk.openMinor(0);
    const before = await disk.read(40, 1);
    await sysHwfault(hw.sys, { fault: "bad-sector", lba: 20, count: 1 });
    try {
      // A fresh block (20, bad) and the block that would point to it (40), after the barrier.
      const write = disk.writev(
        [
          { lba: 20, data: new Uint8Array(512).fill(0xf1) },
          { lba: 21, data: new Uint8Array(512).fill(0xf2) },
          { lba: 40, data: new Uint8Array(512).fill(0xb0) },
        ],
        { flush: true, barrier: 2 },
      );
      await expect(write).rejects.toMatchObject({ errno: "EIO" });
      expect(await disk.read(40, 1)).toEqual(before);
    } finally {
      await sysHwfault(hw.sys, { fault: "clear" });
    }
    // Taken whole once the sector is good again.
    await disk.writev(
      [
        { lba: 20, data: new Uint8Array(512).fill(0xf1) },
        { lba: 40, data: new Uint8Array(512).fill(0xb0) },
      ],
      {
        flush: true,
        barrier: 1,
      },
    );
    expect((await disk.read(40, 1))[0]).toBe(0xb0);
  });

  it("bad input - the driver refuses truncated sectors, bad arguments and foreign message types", async () => {
    const c = await ts.client();
    await expect(c.sys.sendrec("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 10, count: 2 }, new Uint8Array(700))).rejects.toMatchObject({
      errno: "EBADREQUEST",
      detail: { arg: "body", limit: 1024, got: 700 }, // two sectors need 1024 bytes
    });
    await expect(c.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: -1, count: 1 })).rejects.toMatchObject({
      errno: "EBADREQUEST",
      detail: { arg: "lba" },
    });
    // An argument no layout has: only the raw transport can send it (libsys's typed sendrec cannot).
    await expect(
      c.sys.transport.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 1, count: 1, evil: true }, new Uint8Array(0)),
    ).rejects.toMatchObject({
      errno: "EBADREQUEST",
    });
    await expect(c.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 3, lba: 1, count: 1 })).rejects.toMatchObject({ errno: "ENXIO" });
    await expect(c.sys.sendrec("ata", Cdev.CDEV_READ, { minor: 0, count: 1 })).rejects.toMatchObject({ errno: "ENOSYS" });
  });

  it("bad input - garbage published straight onto the driver's endpoint subject gets EBADREQUEST from the driver", async () => {
    const kernelNc = await ts.raw("kernel");
    const ep = (await sysGetEndpoints((await ts.client()).sys)).find((e) => e.label === "ata")!;
    const h = headers();
    h.set(H.type, "not-a-number");
    const m = await kernelNc.request(Subjects.endpoint("ata", ep.generation), new Uint8Array([1, 2, 3]), { headers: h, timeout: 5000 });
    expect(status(m)).toMatchObject({ errname: "EBADREQUEST" });
    const h2 = headers();
    h2.set(H.type, String(Bdev.BDEV_WRITE));
    h2.set(H.args, JSON.stringify({ minor: 0, lba: 5, count: 1 }));
    const m2 = await kernelNc.request(Subjects.endpoint("ata", ep.generation), new Uint8Array(511), { headers: h2, timeout: 5000 });
    expect(status(m2)).toMatchObject({ errname: "EBADREQUEST" });
  });

  it("bad input - random headers and bodies (fast-check) always get an errno reply, never silence", async () => {
    const header = fc.oneof(fc.string({ maxLength: 40 }), fc.integer({ min: -5, max: 0x2000 }).map(String), fc.json({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            type: header,
            dst: fc.oneof(fc.constantFrom("kernel", "ata", "tty", "echo", "ata#1", "ata#999"), fc.string({ maxLength: 12 })),
            args: header,
          },
          { requiredKeys: [] },
        ),
        fc.uint8Array({ maxLength: 2048 }),
        async (hd, body) => {
          const hdrs: Record<string, string> = {};
          const clean = (s: string) => s.replace(/[\r\n\0]/g, "").trim();
          if (hd.type !== undefined && clean(hd.type)) hdrs[H.type] = clean(hd.type);
          if (hd.dst !== undefined && clean(hd.dst)) hdrs[H.dst] = clean(hd.dst);
          if (hd.args !== undefined && clean(hd.args)) hdrs[H.args] = clean(hd.args);
          const r = status(await trap(hdrs, body));
          expect(Number.isInteger(r.status)).toBe(true);
          if (r.status !== 0) expect(errnoName(r.status)).toBeDefined();
        },
      ),
      { numRuns: 150 },
    );
  });

  // After every test above, in whatever order they ran: after all of it, every process is the same one and the disk still serves.
  afterAll(async () => {
    const c = await ts.client();
    const eps = await sysGetEndpoints(c.sys);
    expect(eps.find((e) => e.label === "ata")).toMatchObject({ endpoint: "ata#1", state: "ready" });
    expect(eps.find((e) => e.label === "tty")).toMatchObject({ endpoint: "tty#1", state: "ready" });
    expect(ts.sys.alive()).toMatchObject({ kernel: true, hardware: true, ata: true, tty: true, nats: true });
    const disk = new BdevClient(c.sys, "ata");
    expect((await disk.read(0, 8)).length).toBe(4096);
  });
});
