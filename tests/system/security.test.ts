// A hostile driver ("rogue": may message echo, make devio and vdevio on 0x2F8-0x2FF (COM2, no device), nothing else)
// tries everything it should not, against the real NATS server and kernel. Each attempt
// is refused, and nothing reaches the hardware bus.
import { headers, type NatsConnection, type Status } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bdev, Cdev, Common, H, Hw, Subjects, SysCall, type MkError } from "#abi";
import {
  createLogger,
  followEvents,
  FsClient,
  loadCredential,
  NatsTransport,
  type RunningService,
  type ServiceModule,
  sysDevio,
  sysGetEndpoints,
  sysHwfault,
  sysIrqSetPolicy,
  sysSdevio,
  systemClock,
} from "#libsys";
import { connectNats } from "#base/nats-connect.ts";
import { Wire } from "#base/wire.ts";
import { RequestMux } from "#base/request-mux.ts";
import { Envelope } from "#base/nats-envelope.ts";
import { waitUntil } from "#base/wait.ts";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let hwSpy: NatsConnection;
const busTraffic: string[] = [];
/** The HW_FAULTs the bus carried since a test last cleared it. */
const hwFaults: string[] = [];
const seenByEcho: string[] = [];

const echo: ServiceModule = {
  label: "echo",
  create: () => ({
    handlers: {
      [Common.COMMON_PING]: (req) => {
        seenByEcho.push(req.source);
        return {};
      },
    },
  }),
};

/** Collects the server's permission errors reported on a connection. */
function permissionErrors(nc: NatsConnection): string[] {
  const errs: string[] = [];
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) {
      if (s.type === "error") errs.push(String((s as { error?: Error }).error?.message ?? s));
    }
  })();
  return errs;
}

/** Until the server has reported each of `expected` (permission errors, by subject). */
async function refused(errs: string[], expected: RegExp[]): Promise<void> {
  await waitUntil(() => (expected.every((re) => errs.some((e) => re.test(e))) ? true : undefined), {
    clock: systemClock,
    deadlineMs: 5000,
    what: `the server's refusals ${expected.join(", ")}`,
  });
}

/** Clients that may reach ata and tty, with less than the run of them. */
const NEIGHBOURS = `
  blockuser:
    ipc: [ata, vfs]
    block: { ata: { raw: rw } }
    calls: [getinfo]
  rawreader:
    ipc: [ata, tty]
    block: { ata: { raw: r } }
    calls: [getinfo]
`;

beforeAll(async () => {
  ts = await bootTestSystem({ services: NEIGHBOURS });
  await ts.serve(echo);
  hwSpy = await ts.raw("hardware");
  hwSpy.subscribe(Subjects.hwIo, {
    callback: (_e, m) => {
      busTraffic.push(m.headers?.get(H.args) ?? "");
      if (m.headers?.get(H.type) === String(Hw.HW_FAULT)) hwFaults.push(m.headers?.get(H.args) ?? "");
    },
  });
  await hwSpy.flush();
});
afterAll(async () => {
  await ts?.down();
});

describe("security", () => {
  it("security - publishing to mk.hw.io, another's trap or endpoint is refused by NATS and reaches nobody", async () => {
    const nc = await ts.raw("rogue");
    const errs = permissionErrors(nc);
    const ataTrap: string[] = [];
    const ataSpy = await ts.raw("ata");
    ataSpy.subscribe(`${Subjects.inboxPrefix("ata")}.>`, { callback: (_e, m) => void ataTrap.push(m.subject) });
    await ataSpy.flush();
    busTraffic.length = 0;

    const h = headers();
    h.set(H.args, JSON.stringify({ ops: [["outb", 0x1f7, 0x30]] }));
    h.set(H.type, String(0x1200));
    nc.publish(Subjects.hwIo, new Uint8Array(512), { headers: h });
    nc.publish(Subjects.trap("ata"), undefined, { headers: h });
    nc.publish(Subjects.endpoint("ata", 1), undefined, { headers: h });
    nc.publish(Subjects.hwIrq(14));
    // The server refused each publish: then it routed none of them to anyone.
    await refused(errs, [
      /Permissions Violation for Publish to "mk\.hw\.io"/,
      /Permissions Violation for Publish to "mk\.trap\.ata"/,
      /Permissions Violation for Publish to "mk\.ep\.ata\.1"/,
      /Permissions Violation for Publish to "mk\.hw\.irq\.14"/,
    ]);
    await Promise.all([ataSpy.flush(), hwSpy.flush()]);
    expect(busTraffic).toEqual([]);
    expect(ataTrap).toEqual([]);
  });

  it("security - subscribing to another's inbox or endpoint is refused", async () => {
    const nc = await ts.raw("rogue");
    const errs = permissionErrors(nc);
    nc.subscribe(`${Subjects.inboxPrefix("ata")}.>`);
    nc.subscribe(Subjects.endpointWildcard("ata"));
    nc.subscribe(Subjects.hwIo);
    await refused(errs, [
      /Permissions Violation for Subscription to "_INBOX\.ata\.>"/,
      /Permissions Violation for Subscription to "mk\.ep\.ata\.>"/,
      /Permissions Violation for Subscription to "mk\.hw\.io"/,
    ]);
  });

  it("security - only a caller with the chaos privilege may arm faults (COMMON_FAULT) or hardware faults (hwfault); the refusal is an event", async () => {
    const client = await ts.client("client"); // may message echo, has no chaos privilege
    hwFaults.length = 0;
    const denied: string[] = [];
    await followEvents(client.sys, (ev) => void (ev.kind === "denied" && denied.push(`${ev.label}:${ev.denied}:${ev.target}`)));
    await expect(client.sys.sendrec("echo", Common.COMMON_FAULT, { fault: "crash" })).rejects.toMatchObject({
      errno: "ECALLDENIED",
      detail: { arg: "chaos", label: "echo" },
    });
    await expect(sysHwfault(client.sys, { fault: "stuck-bsy", ms: 60_000 })).rejects.toMatchObject({ errno: "ECALLDENIED" });
    await hwSpy.flush();
    // No fault reached the bus (other traffic, a driver's port I/O, may).
    expect(hwFaults).toEqual([]);
    // echo was not armed: it still answers.
    await expect(client.sys.sendrec("echo", Common.COMMON_PING, {})).resolves.toMatchObject({ data: expect.any(Uint8Array) });
    await waitUntil(() => (denied.includes("client:chaos:echo") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the denied event",
    });
    // The chaos client may: a slow fault on echo delays its next reply.
    const chaos = await ts.client("chaos");
    await expect(chaos.sys.sendrec("tty", Common.COMMON_FAULT, { fault: "slow", ms: 300, count: 1 })).resolves.toMatchObject({
      data: expect.any(Uint8Array),
    });
    const t0 = Date.now();
    await chaos.sys.sendrec("tty", Common.COMMON_PING, {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it("security - kernel calls not granted answer ECALLDENIED; a port outside the range answers EPERM naming it", async () => {
    const rogue = await ts.client("rogue");
    busTraffic.length = 0;
    await expect(sysIrqSetPolicy(rogue.sys, 14, 1)).rejects.toMatchObject({
      errno: "ECALLDENIED",
      detail: { arg: "irqctl", label: "rogue" },
    });
    await expect(sysSdevio(rogue.sys, "insw", 0x1f0, 256)).rejects.toMatchObject({ errno: "ECALLDENIED" });
    await expect(sysDevio(rogue.sys, "inb", 0x1f7)).rejects.toMatchObject({
      errno: "EPERM",
      detail: { arg: "devio", port: 0x1f7, label: "rogue" },
    });
    await expect(sysDevio(rogue.sys, "outb", 0x70, 0)).rejects.toMatchObject({ errno: "EPERM", detail: { port: 0x70 } });
    expect(busTraffic).toEqual([]);
    // Within its range the same call works: the refusals above were about the port.
    await expect(sysDevio(rogue.sys, "inb", 0x2fd)).resolves.toBeTypeOf("number");
    // The spy's copy of the bus message may arrive after the reply: wait for it by name.
    await waitUntil(() => (busTraffic.length > 0 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the spy to see the allowed devio",
    });
    await hwSpy.flush();
    expect(busTraffic).toHaveLength(1);
    const metrics = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
    expect(metrics).toMatch(/mk_denials_total\{call="devio",reason="port"\} 2/);
    expect(metrics).toMatch(/mk_denials_total\{call="irqctl",reason="call"\} 1/);
  });

  it("security - messaging a service outside the ipc list answers ECALLDENIED", async () => {
    const rogue = await ts.client("rogue");
    await expect(rogue.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new Uint8Array(4))).rejects.toMatchObject({
      errno: "ECALLDENIED",
      detail: { arg: "ipc", label: "tty" },
    });
    await expect(rogue.sys.sendrec("ata", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "ECALLDENIED" });
  });

  it("security - a source header naming another service is refused; the delivered source is the kernel's stamp", async () => {
    const rogue = await ts.client("rogue");
    const nc = await ts.raw("rogue");
    seenByEcho.length = 0;
    const forged = (src: string) => {
      const h = headers();
      h.set(H.type, String(Common.COMMON_PING));
      h.set(H.dst, "echo");
      h.set(H.src, src);
      return nc.request(Subjects.trap("rogue"), undefined, { headers: h, timeout: 5000 });
    };
    for (const src of ["ata#1", "kernel", "rogue", "rogue#0"]) {
      const m = await forged(src);
      expect(m.headers?.get(H.errname)).toBe("EBADSRCDST");
      expect(m.headers?.get(H.errmsg)).toContain("is not an incarnation (label#generation) of the caller rogue");
    }
    expect(seenByEcho).toEqual([]);
    await rogue.sys.sendrec("echo", Common.COMMON_PING, {});
    expect(seenByEcho).toEqual([rogue.sys.self]);
    expect(seenByEcho[0]).toMatch(/^rogue#\d+$/);
    const metrics = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
    expect(metrics).toMatch(/mk_denials_total\{call="trap",reason="source"\} 4/);
    // Stopped, so its report of that round trip is not sent later as a superseded incarnation's (the next test counts those refusals).
    await rogue.stop();
  });

  it("security - a superseded incarnation that is still connected cannot trap: EDEADSRCDST, nothing reaches the bus", async () => {
    const old = await ts.client("rogue");
    const current = await ts.client("rogue"); // a new incarnation of the same label supersedes the old
    expect(current.sys.generation).toBe(old.sys.generation + 1);
    const staleDenials = async () =>
      Number(
        /^mk_denials_total\{call="trap",reason="stale-source"\} (\d+)/m.exec(
          await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const deniedBefore = await staleDenials();
    const before = busTraffic.length;
    await expect(sysDevio(old.sys, "inb", 0x2fd)).rejects.toMatchObject({
      errno: "EDEADSRCDST",
      message: `caller ${old.sys.self} is not the live incarnation of rogue (${current.sys.self} is)`,
    });
    await expect(old.sys.sendrec("echo", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    expect(busTraffic.length).toBe(before);
    await expect(sysDevio(current.sys, "inb", 0x2fd)).resolves.toBeTypeOf("number");
    expect(busTraffic.length).toBe(before + 1);
    expect((await staleDenials()) - deniedBefore).toBe(2);
  });

  // Both would otherwise wait out their 60 s deadline: the test's own 20 s limit fails them.
  it("security - a service started with another's credential gets ETRAPDENIED at once, not a timeout", { timeout: 20_000 }, async () => {
    const t = new NatsTransport("tty", await connectNats("tty", loadCredential(ts.sys.credFile("rogue")), "_INBOX.tty"), () => {
      throw new Error("no panic expected");
    });
    try {
      await expect(t.sendrec("kernel", SysCall.SYS_GETINFO, { what: "endpoints" }, new Uint8Array(0), 60_000)).rejects.toMatchObject({
        errno: "ETRAPDENIED",
        // nats-server refused the trap's publish or the reply inbox's subscription: the wrong credential.
        cause: expect.objectContaining({ code: expect.stringMatching(/^MK_ERR_(PUBLISH|INBOX)_DENIED$/) }),
      });
    } finally {
      await t.close();
    }
  });

  it("security - a publish the server refuses fails the request at once with the refused subject", { timeout: 20_000 }, async () => {
    const nc = await ts.raw("rogue");
    const mux = new RequestMux(new Wire(nc, createLogger("test"), systemClock), "_INBOX.rogue", systemClock);
    mux.start();
    const h = new Envelope();
    h.set(H.type, String(Common.COMMON_PING));
    h.set(H.dst, "echo");
    const refused = mux.request(Subjects.trap("tty"), undefined, h, 60_000);
    await expect(refused).rejects.toMatchObject({ code: "MK_ERR_PUBLISH_DENIED", subject: "mk.trap.tty" });
    // The same connection still works where it is allowed.
    const ok = await mux.request(Subjects.trap("rogue"), undefined, h, 60_000);
    expect(ok.headers?.get(H.status)).toBeDefined();
    mux.close(new Error("done"));
  });

  it("security - a trap naming another service's inbox as reply subject is dropped", async () => {
    const nc = await ts.raw("rogue");
    const ataInbox: string[] = [];
    const ata = await ts.raw("ata");
    ata.subscribe(`${Subjects.inboxPrefix("ata")}.>`, { callback: (_e, m) => void ataInbox.push(m.subject) });
    await ata.flush();
    const h = headers();
    h.set(H.type, String(SysCall.SYS_GETINFO));
    h.set(H.dst, "kernel");
    h.set(H.args, JSON.stringify({ what: "endpoints" }));
    nc.publish(Subjects.trap("rogue"), undefined, { headers: h, reply: "_INBOX.ata.stolen" });
    // The kernel has taken the trap when it counts the denial; then nothing went to ata's inbox.
    await waitUntil(
      async () =>
        /mk_denials_total\{call="trap",reason="reply-subject"\} 1/.test(await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text())
          ? true
          : undefined,
      {
        clock: systemClock,
        deadlineMs: 5000,
        what: "the kernel counting the reply-subject denial",
      },
    );
    await ata.flush();
    expect(ataInbox).toEqual([]);
  });

  it("security - no client but mfs touches the file system's sectors: writes and reads there are EPERM, nothing is written, a file fsync'd is intact at once and after an mfs restart", async () => {
    const user = await ts.client("blockuser");
    const ro = await ts.client("rawreader");
    const fs = new FsClient(user.sys);
    const content = new Uint8Array(8192).fill(0x76);
    const h = await fs.open("/sec-victim", "w");
    await h.write(content);
    await h.sync();
    await h.close();
    const minixFirst = 16384; // the test disk's 32768 sectors: raw 0%-50%, minix 50%-100%
    const bdev = (c: RunningService, type: number, lba: number, count: number, data?: Uint8Array) =>
      c.sys.transport.sendrec("ata", type, { minor: 0, lba, count }, data ?? new Uint8Array(0)).then(
        () => "OK",
        (e: MkError) => e.errno,
      );
    const rawBefore = (await user.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: minixFirst - 4, count: 4 })).data;
    const attack = new Uint8Array(8 * 512).fill(0x41);
    expect(await bdev(user, Bdev.BDEV_WRITE, minixFirst, 8, attack)).toBe("EPERM"); // the superblock's sectors
    expect(await bdev(user, Bdev.BDEV_WRITE, minixFirst + 4000, 8, attack)).toBe("EPERM");
    expect(await bdev(user, Bdev.BDEV_WRITE, minixFirst - 4, 8, attack)).toBe("EPERM"); // straddles raw and minix: all of it refused
    expect(await bdev(user, Bdev.BDEV_READ, minixFirst + 100, 1)).toBe("EPERM");
    expect(await bdev(ro, Bdev.BDEV_WRITE, 100, 8, attack)).toBe("EPERM"); // read-only on raw
    expect(await bdev(ro, Bdev.BDEV_READ, 100, 8)).toBe("OK");
    expect(await bdev(user, Bdev.BDEV_WRITE, 100, 8, attack)).toBe("OK");
    expect(
      await ro.sys.sendrec("ata", Bdev.BDEV_FLUSH, { minor: 0 }).then(
        () => "OK",
        (e: MkError) => e.errno,
      ),
    ).toBe("EPERM");
    const rawAfter = (await user.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: minixFirst - 4, count: 4 })).data;
    expect(Buffer.compare(Buffer.from(rawAfter), Buffer.from(rawBefore))).toBe(0);
    expect(Buffer.compare(await fs.readFile("/sec-victim"), Buffer.from(content))).toBe(0);
    const gen = (await sysGetEndpoints(user.sys)).find((e) => e.label === "mfs")!.generation;
    ts.sys.kill("mfs", "SIGKILL");
    await waitUntil(
      async () =>
        (await sysGetEndpoints(user.sys)).some((e) => e.label === "mfs" && e.state === "ready" && e.generation > gen) ? true : undefined,
      { clock: systemClock, deadlineMs: 20_000, what: "the next mfs" },
    );
    expect(Buffer.compare(await fs.readFile("/sec-victim"), Buffer.from(content))).toBe(0);
    await fs.unlink("/sec-victim");
  });

  it("security - the console's typed lines go to its owner only: a label with ipc to tty but no input privilege is refused EPERM and the line reaches the owner", async () => {
    const snoop = await ts.client("rawreader");
    const owner = await ts.client();
    const consoleIn = await ts.raw("client");
    expect(
      await snoop.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 80, timeoutMs: 2000 }).then(
        () => "OK",
        (e: MkError) => e.errno,
      ),
    ).toBe("EPERM");
    // Writing stays open to anyone with ipc.
    expect((await snoop.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new TextEncoder().encode("hello\n"))).args).toMatchObject({
      count: 6,
    });
    const reading = owner.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 80, timeoutMs: 5000 });
    const refused = snoop.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 80, timeoutMs: 5000 }).then(
      () => "OK",
      (e: MkError) => e.errno,
    );
    await waitUntil(async () => ((await refused) === "EPERM" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "the snoop refused",
    });
    consoleIn.publish(Subjects.consoleIn, new TextEncoder().encode("secret-password-typed\n"));
    expect(new TextDecoder().decode((await reading).data)).toBe("secret-password-typed\n");
  });
});
