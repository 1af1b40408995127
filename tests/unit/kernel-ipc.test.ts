// kernel-core's trap path in one process: in-kernel servers bound through the same
// libsys seam, the real emulated machine as the bus, time on a manual clock.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Bdev, Common } from "#abi";
import { Kernel } from "../../kernel-core/src/kernel.ts";
import { KernelTransport } from "../../kernel-core/src/ipc/kernel-transport.ts";
import { KernelMetrics } from "../../kernel-core/src/metrics/metrics.ts";
import { parseSystemTable } from "#base/system-table.ts";
import { service as ata } from "../../services/drivers/ata/src/index.ts";
import {
  createLogger,
  ManualClock,
  startService,
  sysDevio,
  sysGetPrivileges,
  sysIrqEnable,
  sysIrqSetPolicy,
  sysSdevio,
  sysVdevio,
  type ServiceModule,
} from "#libsys";
import { MachineBus, testMachine, type TestMachine } from "../helpers/machine.ts";
import { testSystemYaml } from "../helpers/system.ts";

const log = createLogger("test");
log.level = "silent";
let t: TestMachine;
let clock: ManualClock;
let kernel: Kernel;

const notified: { source: string; bits: number }[] = [];
const pinged: string[] = [];
const echo: ServiceModule = {
  label: "echo",
  create: () => ({
    notify: (source, bits) => void notified.push({ source, bits }),
    handlers: {
      [Common.COMMON_PING]: (r) => {
        pinged.push(r.source);
        return { args: {}, data: r.data };
      },
    },
  }),
};
const nothing = (label: string): ServiceModule => ({ label, create: () => ({ handlers: {} }) });

async function inKernel(module: ServiceModule) {
  return startService(module, new KernelTransport(module.label, kernel.ipc, log), { log, clock });
}

const tick = () => new Promise((r) => setImmediate(r));

beforeEach(() => {
  t = testMachine(4096);
  clock = new ManualClock();
  t.clock.advance(0);
  kernel = new Kernel({
    priv: parseSystemTable(testSystemYaml()),
    hw: new MachineBus(() => t.m),
    log,
    clock,
    metrics: new KernelMetrics(false),
  });
  t.onIrq = (line) => kernel.ipc.irq(line);
  notified.length = 0;
  pinged.length = 0;
});
afterEach(() => t.dispose());

describe("kernel ipc", () => {
  it("ipc - sendrec between in-kernel servers is stamped with the caller's incarnation", async () => {
    await inKernel(echo);
    const client = await inKernel(nothing("client"));
    const r = await client.sys.sendrec("echo", Common.COMMON_PING, {}, new Uint8Array([1, 2, 3]));
    expect([...r.data]).toEqual([1, 2, 3]);
    expect(pinged).toEqual(["client#1"]);
  });

  it("ipc - a request the server drops as it leaves the queue (its caller known dead) is not run: EDEADSRCDST", async () => {
    const dead = new Set<string>();
    await inKernel({
      label: "echo",
      create: () => ({
        drop: (r) => dead.has(r.source),
        handlers: {
          [Common.COMMON_PING]: (r) => {
            pinged.push(r.source);
            return {};
          },
        },
      }),
    });
    const client = await inKernel(nothing("client"));
    await client.sys.sendrec("echo", Common.COMMON_PING, {});
    dead.add("client#1");
    await expect(client.sys.sendrec("echo", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    expect(pinged).toEqual(["client#1"]);
  });

  it("ipc - send delivers one way: the kernel acknowledges, the receiver sees kind send", async () => {
    const kinds: string[] = [];
    await inKernel({
      label: "echo",
      create: () => ({
        handlers: {
          [Common.COMMON_PING]: (r) => {
            kinds.push(`${r.kind}:${r.source}`);
            return {};
          },
        },
      }),
    });
    const client = await inKernel(nothing("client"));
    await client.sys.send("echo", Common.COMMON_PING, {});
    await tick();
    expect(kinds).toEqual(["send:client#1"]);
    await expect(client.sys.send("ata", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
  });

  it("ipc - a reply whose arguments do not fit the message type's reply layout is refused at the caller's edge (EBADREQUEST naming the field), never handed on", async () => {
    await inKernel({
      label: "echo",
      create: () => ({ handlers: { [Common.COMMON_PING]: () => ({ args: { smuggled: 1 } }) } }),
    });
    const client = await inKernel(nothing("client"));
    await expect(client.sys.sendrec("echo", Common.COMMON_PING, {})).rejects.toMatchObject({
      errno: "EBADREQUEST",
      detail: { arg: "smuggled" },
    });
    // The raw transport hands over what arrived, for the tools that want it unparsed.
    await expect(client.sys.transport.sendrec("echo", Common.COMMON_PING, {}, new Uint8Array(0))).resolves.toMatchObject({
      args: { smuggled: 1 },
    });
  });

  it("ipc - notify bits to the same destination coalesce into one delivery", async () => {
    await inKernel(echo);
    const client = await inKernel(nothing("client"));
    await Promise.all([client.sys.notify("echo", 1), client.sys.notify("echo", 2), client.sys.notify("echo", 4)]);
    await tick();
    expect(notified).toEqual([{ source: "client#1", bits: 7 }]);
    await client.sys.notify("echo", 8);
    await tick();
    expect(notified).toEqual([
      { source: "client#1", bits: 7 },
      { source: "client#1", bits: 8 },
    ]);
  });

  it("ipc - a new incarnation gets generation+1 and the old one answers EDEADSRCDST", async () => {
    await inKernel(echo);
    const client = await inKernel(nothing("client"));
    const again = await inKernel(echo);
    expect(again.sys.self).toBe("echo#2");
    await expect(client.sys.sendrec("echo#1", Common.COMMON_PING, {})).rejects.toMatchObject({
      errno: "EDEADSRCDST",
      detail: { label: "echo", got: 1, limit: 2 }, // asked for echo#1; echo#2 is current
    });
    await expect(client.sys.sendrec("echo#2", Common.COMMON_PING, {})).resolves.toMatchObject({ data: expect.any(Uint8Array) });
    await expect(client.sys.sendrec("ata", Common.COMMON_PING, {})).rejects.toMatchObject({
      errno: "EDEADSRCDST",
      detail: { label: "ata" }, // no incarnation at all: no generation to name
    });
    await expect(client.sys.sendrec("rogue", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "ECALLDENIED" });
  });

  it("ipc - a tool with instances runs as many endpoints at once, each with its label's privileges, at most `instances`; a label without is refused", async () => {
    const ids = Array.from({ length: 16 }, (_, i) => `mkctl.run${String(i).padStart(5, "0")}`);
    const runs = [];
    for (const id of ids) runs.push(await inKernel(nothing(id)));
    expect(runs.map((r) => r.sys.self)).toEqual(ids.map((id) => `${id}#1`));
    expect(await sysGetPrivileges(runs[3].sys)).toMatchObject({ label: "mkctl", ipc: expect.arrayContaining(["ata", "rs"]) });
    await expect(inKernel(nothing("mkctl.onetoomy"))).rejects.toMatchObject({ errno: "EAGAIN" });
    await runs[0].stop();
    // One stopped: its seat is free again, and the newcomer is registered under its own id.
    expect((await inKernel(nothing("mkctl.onetoomy"))).sys.self).toBe("mkctl.onetoomy#1");
    await expect(inKernel(nothing("client.abcdefgh"))).rejects.toMatchObject({ errno: "ECALLDENIED" });
  });

  it("ipc - an IRQ becomes a notification from hardware to the line's owner, masked without IRQ_REENABLE", async () => {
    const seen: { source: string; bits: number }[] = [];
    const owner: ServiceModule = {
      label: "tty",
      create: (sys) => ({
        handlers: {},
        notify: (source, bits) => void seen.push({ source, bits }),
        initFresh: () => sysIrqSetPolicy(sys, 4, 0),
      }),
    };
    const tty = await inKernel(owner);
    t.outb(0x3f9, 0x01); // UART: receive interrupts on
    t.m.uart.receive(new TextEncoder().encode("x"));
    await tick();
    expect(seen).toEqual([{ source: "hardware", bits: 1 << 4 }]);
    t.inb(0x3f8);
    t.m.uart.receive(new TextEncoder().encode("y")); // line masked until re-enabled
    await tick();
    expect(seen).toHaveLength(1);
    await sysIrqEnable(tty.sys, 4);
    t.inb(0x3f8);
    t.m.uart.receive(new TextEncoder().encode("z"));
    await tick();
    expect(seen).toHaveLength(2);
    await expect(sysIrqSetPolicy(tty.sys, 14, 0)).rejects.toMatchObject({
      errno: "EPERM",
      detail: { arg: "irqctl", irq: 14, label: "tty" },
    });
  });

  it("kernel calls - sdevio moves a whole sector in one call; devio and vdevio reach the bus; a port outside the range is EPERM", async () => {
    const probe = await inKernel(nothing("ata"));
    const sector = new Uint8Array(512).map((_, i) => (i * 3) & 0xff);
    await sysVdevio(probe.sys, [
      ["outb", 0x1f6, 0xe0],
      ["outb", 0x1f2, 1],
      ["outb", 0x1f3, 9],
      ["outb", 0x1f4, 0],
      ["outb", 0x1f5, 0],
      ["outb", 0x1f7, 0x30],
    ]);
    await sysSdevio(probe.sys, "outsw", 0x1f0, 256, sector);
    expect((await sysDevio(probe.sys, "inb", 0x1f7)) & 0x89).toBe(0); // no BSY, DRQ or ERR: written
    await sysVdevio(probe.sys, [
      ["outb", 0x1f2, 1],
      ["outb", 0x1f3, 9],
      ["outb", 0x1f7, 0x20],
    ]);
    expect(await sysSdevio(probe.sys, "insw", 0x1f0, 256)).toEqual(sector);
    await expect(sysSdevio(probe.sys, "outsw", 0x1f0, 256, new Uint8Array(100))).rejects.toMatchObject({
      errno: "EBADREQUEST",
      detail: { arg: "body", limit: 512, got: 100 },
    });
    await expect(sysDevio(probe.sys, "inb", 0x60)).rejects.toMatchObject({
      errno: "EPERM",
      detail: { arg: "devio", port: 0x60, label: "ata" },
    });
    await expect(sysGetPrivileges(probe.sys)).rejects.toMatchObject({ errno: "ECALLDENIED" }); // ata has no getinfo
    const client = await inKernel(nothing("client"));
    expect(await sysGetPrivileges(client.sys)).toEqual({
      label: "client",
      placement: "user",
      ipc: ["ata", "tty", "echo"],
      calls: ["getinfo"],
      io: [],
      irq: [],
      console: true,
      events: true,
      metrics: false,
      chaos: false,
      block: [{ device: "ata", area: "raw", first: 0, last: 16383, access: "rw" }],
      input: ["tty"],
    });
  });

  it("ata driver - a drive stuck busy is soft-reset after 1 s and serves; one that stays busy through resets fails with ETIMEDOUT at the deadline, without sleeping", async () => {
    await inKernel(ata);
    const client = await inKernel(nothing("client"));
    /** The request's outcome (reply or error), moving both manual clocks 50 ms at a time until it settles. */
    const settle = async (p: Promise<unknown>): Promise<unknown> => {
      let out: unknown;
      let done = false;
      const tracked = p.then(
        (r) => ((out = r), (done = true)),
        (e) => ((out = e), (done = true)),
      );
      for (let i = 0; i < 200 && !done; i++) {
        await tick();
        clock.advance(50);
        t.clock.advance(50);
      }
      await tracked;
      return out;
    };
    const read = (lba: number) => client.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba, count: 1 });
    // A firmware hang a reset clears: the read completes after the driver's SRST.
    t.m.faults.apply({ fault: "stuck-bsy", ms: 3_600_000 });
    expect(await settle(read(0))).toMatchObject({ data: expect.any(Uint8Array) });
    // One that survives every reset: ETIMEDOUT at the deadline.
    t.m.faults.apply({ fault: "stuck-bsy", ms: 3_600_000, count: 100 });
    expect(await settle(read(0))).toMatchObject({
      errno: "ETIMEDOUT",
      detail: { arg: "status", got: 0x80, limit: 5000 }, // BSY alone, still, at the 5000 ms deadline
    });
    // A drive busy for less than the deadline: the driver waits, re-issues, and succeeds.
    t.m.faults.apply({ fault: "clear" });
    await client.sys.sendrec("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 3, count: 1 }, new Uint8Array(512).fill(0x33));
    t.m.faults.apply({ fault: "stuck-bsy", ms: 700 });
    expect(((await settle(read(3))) as { data: Uint8Array }).data).toEqual(new Uint8Array(512).fill(0x33));
    // Once the fault clears the same driver serves again.
    t.m.faults.apply({ fault: "clear" });
    await expect(client.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 0, count: 1 })).resolves.toMatchObject({ args: { count: 1 } });
  });
});
