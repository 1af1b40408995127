// The kernel event stream in one process: lifecycle changes and denials as kernel-core
// publishes them (numbered, shaped, budgeted), what a reader does with a bad event, and
// how a follower tells a gap and a kernel restart. Time on a manual clock.
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Common, decodeKernelEvent, EventSubjects, MAX_EVENT_BYTES, MkError, SysCall, type KernelEvent } from "#abi";
import { parseSystemTable } from "#base/system-table.ts";
import { Kernel } from "../../kernel-core/src/kernel.ts";
import { KernelMetrics } from "../../kernel-core/src/metrics/metrics.ts";
import { KernelTransport } from "../../kernel-core/src/ipc/kernel-transport.ts";
import { createLogger, followEvents, ManualClock, startService, type ServiceModule, type Sys } from "#libsys";
import { MachineBus, testMachine, type TestMachine } from "../helpers/machine.ts";
import { testSystemYaml } from "../helpers/system.ts";

const log = createLogger("test");
log.level = "silent";
let t: TestMachine;
let clock: ManualClock;
let kernel: Kernel;
let wire: { subject: string; ev: KernelEvent }[];

const nothing = (label: string): ServiceModule => ({ label, create: () => ({ handlers: {} }) });
const inKernel = (module: ServiceModule) =>
  startService(
    module,
    new KernelTransport(module.label, kernel.ipc, log, { source: kernel.events, allowed: kernel.priv.services.get(module.label)!.events }),
    { log, clock },
  );
const tick = () => new Promise((r) => setImmediate(r));
const kinds = () => wire.map((w) => `${w.ev.kind}:${w.ev.endpoint}${w.ev.cause ? `:${w.ev.cause}` : ""}`);

beforeEach(() => {
  t = testMachine(4096);
  clock = new ManualClock();
  kernel = new Kernel({
    priv: parseSystemTable(testSystemYaml()),
    hw: new MachineBus(() => t.m),
    log,
    clock,
    metrics: new KernelMetrics(false),
  });
  wire = [];
  kernel.events.attach((subject, payload) => wire.push({ subject, ev: decodeKernelEvent(payload) }));
});
afterEach(() => t.dispose());

describe("events", () => {
  it("events - the kernel's own start is kept until it is connected, then sent first, numbered from 1", () => {
    expect(kinds()).toEqual(["started:kernel#1", "ready:kernel#1"]);
    expect(wire.map((w) => w.ev.seq)).toEqual([1, 2]);
    expect(wire[0]).toMatchObject({
      subject: "mk.ev.started.kernel",
      ev: { boot: kernel.boot, label: "kernel", generation: 1, pid: process.pid, placement: "kernel" },
    });
  });

  it("events - started, ready, dead with its cause, superseded: in order, without gaps, with endpoint and pid", async () => {
    const echo = await inKernel(nothing("echo"));
    await inKernel(nothing("echo")); // a second incarnation supersedes the first
    await echo.stop(); // the superseded one's exit is refused (it is not the live echo): nothing dies
    const client = await inKernel(nothing("client"));
    await client.stop();
    expect(kinds().slice(2)).toEqual([
      "started:echo#1",
      "ready:echo#1",
      "dead:echo#1:superseded",
      "started:echo#2",
      "ready:echo#2",
      "denied:echo#2",
      "started:client#1",
      "ready:client#1",
      "dead:client#1:exit",
    ]);
    expect(wire.map((w) => w.ev.seq)).toEqual(wire.map((_, i) => i + 1));
    const superseded = wire.find((w) => w.ev.cause === "superseded")!;
    expect(superseded.subject).toBe("mk.ev.dead.echo");
    expect(superseded.ev).toMatchObject({ endpoint: "echo#1", generation: 1, detail: expect.stringContaining("echo#2") });
    expect(wire.find((w) => w.ev.kind === "denied")?.ev).toMatchObject({ denied: "stale-source", target: "echo#1", errno: "EDEADSRCDST" });
    expect(kernel.table.get("echo")).toMatchObject({ key: "echo#2", state: "ready" });
    for (const w of wire) expect(w.ev.ts).toBeGreaterThan(0);
  });

  it("events - a denial names the caller, what was refused and the errno; a flood publishes 10 per 10 s and counts the rest", async () => {
    const client = await inKernel(nothing("client2"));
    wire = [];
    for (let i = 0; i < 50; i++) {
      await expect(client.sys.kernelCall(SysCall.SYS_DEVIO, { op: "inb", port: 0x1f7 })).rejects.toMatchObject({
        errno: "ECALLDENIED",
      });
    }
    await expect(client.sys.sendrec("echo", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "ECALLDENIED" });
    const denied = wire.filter((w) => w.ev.kind === "denied");
    expect(denied.filter((w) => w.ev.denied === "call")).toHaveLength(10);
    expect(denied[0]).toMatchObject({
      subject: "mk.ev.denied.client2",
      ev: { endpoint: "client2#1", denied: "call", target: "devio", errno: "ECALLDENIED" },
    });
    expect(denied.find((w) => w.ev.denied === "ipc")?.ev).toMatchObject({ target: "echo", errno: "ECALLDENIED" }); // its own budget
    expect(kernel.events.withheld).toBe(40);
    clock.advance(10_000);
    await expect(client.sys.kernelCall(SysCall.SYS_DEVIO, { op: "inb", port: 0x1f7 })).rejects.toMatchObject({ errno: "ECALLDENIED" });
    expect(wire.at(-1)!.ev).toMatchObject({ denied: "call", suppressed: 40 });
  });

  it("events - an in-kernel reader follows the stream; without the events privilege it is refused with ECALLDENIED", async () => {
    const client = await inKernel(nothing("client"));
    const seen: string[] = [];
    const f = await followEvents(client.sys, (ev) => seen.push(`${ev.kind}:${ev.endpoint}`));
    await inKernel(nothing("echo"));
    await tick();
    expect(seen).toEqual(["started:echo#1", "ready:echo#1"]);
    f.stop();
    const client2 = await inKernel(nothing("client2"));
    await expect(followEvents(client2.sys, () => undefined)).rejects.toMatchObject({ errno: "ECALLDENIED" });
  });

  it("events - a follower counts events lost in transit and tells a kernel restart", async () => {
    let push: (ev: KernelEvent) => void = () => undefined;
    const sys = {
      transport: { events: async (fn: (ev: KernelEvent) => void) => ((push = fn), { stop: () => undefined }) },
    } as unknown as Sys;
    const got: string[] = [];
    const f = await followEvents(sys, (ev, ctx) => got.push(`${ev.boot}/${ev.seq} missed=${ctx.missed} new=${ctx.newBoot}`));
    const ev = (boot: string, seq: number) => ({ ...wire[0].ev, boot, seq });
    for (const [b, s] of [
      ["a", 5],
      ["a", 6],
      ["a", 9],
      ["a", 8],
      ["b", 1],
      ["b", 2],
    ] as const)
      push(ev(b, s));
    expect(got).toEqual([
      "a/5 missed=0 new=false",
      "a/6 missed=0 new=false",
      "a/9 missed=2 new=false",
      "a/8 missed=0 new=false",
      "b/1 missed=0 new=true",
      "b/2 missed=0 new=false",
    ]);
    expect(f).toMatchObject({ received: 6, missed: 2 });
  });

  it("events - a reader refuses anything not shaped like an event with EBADREQUEST naming the fault (fast-check)", () => {
    expect(() => decodeKernelEvent(new Uint8Array(MAX_EVENT_BYTES + 1))).toThrow(
      expect.objectContaining({ errno: "EBADREQUEST", detail: { arg: "event", limit: MAX_EVENT_BYTES, got: MAX_EVENT_BYTES + 1 } }),
    );
    expect(() => decodeKernelEvent(new TextEncoder().encode("{nope"))).toThrow(expect.objectContaining({ errno: "EBADREQUEST" }));
    const good = wire[0].ev;
    expect(() => decodeKernelEvent(new TextEncoder().encode(JSON.stringify({ ...good, kind: "exploded" })))).toThrow(
      expect.objectContaining({ errno: "EBADREQUEST", detail: { arg: "kind" } }),
    );
    expect(() => decodeKernelEvent(new TextEncoder().encode(JSON.stringify({ ...good, seq: -1 })))).toThrow(
      expect.objectContaining({ errno: "EBADREQUEST", detail: { arg: "seq" } }),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ ...Object.fromEntries(Object.keys(good).map((k) => [k, fc.jsonValue()])) })),
        (v) => {
          try {
            decodeKernelEvent(new TextEncoder().encode(JSON.stringify(v) ?? ""));
          } catch (e) {
            expect(e).toBeInstanceOf(MkError);
          }
        },
      ),
      { numRuns: 500 },
    );
    expect(EventSubjects.event("dead", "ata")).toBe("mk.ev.dead.ata");
  });
});
