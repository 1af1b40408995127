// The code behind "a client waiting for the next generation never misses it", on a manual
// clock: the kernel's waits on an incarnation (a message held until it is ready or given a
// CPU, then forwarded), the endpoint table's waiters, and libsys's Recovering, which
// follows a server across its incarnations. Each test provokes a death or a new
// incarnation at every point a waiter can be between its checks and its wait.
import { beforeEach, describe, expect, it } from "vitest";
import { Common, DeathCause, Kind, MkError, prop, SysCall } from "#abi";
import { ManualClock } from "#base/clock.ts";
import { parseSystemTable } from "#base/system-table.ts";
import type { RawReply, Transport } from "#base/transport.ts";
import { Kernel } from "../../kernel-core/src/kernel.ts";
import { KernelMetrics } from "../../kernel-core/src/metrics/metrics.ts";
import { EndpointTable, type EndpointEntry } from "../../kernel-core/src/table/endpoint-table.ts";
import type { TrapIn, TrapOut } from "../../kernel-core/src/ipc/ipc.ts";
import { createLogger, Recovering, SysImpl, type Sys } from "#libsys";
import { MachineBus, testMachine } from "../helpers/machine.ts";
import { testSystemYaml } from "../helpers/system.ts";

const log = createLogger("test");
log.level = "silent";
const EMPTY = new Uint8Array(0);
const who = (pid: number) => ({ placement: "user" as const, pid, host: "h", conn: `c${pid}` });
/** Lets every queued microtask and immediate run. */
const settle = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

describe("the kernel's waits on an incarnation", () => {
  let clock: ManualClock;
  let kernel: Kernel;
  let forwarded: string[];

  beforeEach(() => {
    clock = new ManualClock();
    const t = testMachine(64);
    kernel = new Kernel({
      priv: parseSystemTable(testSystemYaml()),
      hw: new MachineBus(() => t.m),
      log,
      clock,
      metrics: new KernelMetrics(false),
    });
    kernel.sched.stop();
    forwarded = [];
    // A user-placement server that never answers (hung): only its death can end a request.
    kernel.ipc.attach({
      forward: (ep) => (forwarded.push(ep.key), new Promise<TrapOut>(() => undefined)),
      notify: () => undefined,
      forwardDirect: () => undefined,
      died: () => undefined,
    });
  });

  const trap = (dst: string): TrapIn => ({
    caller: "client",
    origin: "user",
    kind: Kind.SENDREC,
    dst,
    type: Common.COMMON_PING,
    args: {},
    data: EMPTY,
    reqId: "r",
    timeoutMs: 60_000,
  });

  it("recovery - a destination that dies at any point after its message was dispatched fails the request at once, never at its deadline", async () => {
    const client = kernel.table.incarnate("client", who(1)).entry;
    kernel.table.ready(client);
    for (let depth = 0; depth < 12; depth++) {
      const ep = kernel.table.incarnate("echo", who(100 + depth)).entry;
      kernel.table.ready(ep);
      let dispatch!: () => void;
      const dispatched = new Promise<void>((r) => (dispatch = r));
      // The scheduler holds the message until echo gets a CPU; echo dies `depth` microtasks after.
      let chain: Promise<void> = dispatched;
      for (let i = 0; i < depth; i++) chain = chain.then(() => undefined);
      void chain.then(() => kernel.table.markDead(ep, DeathCause.DISCONNECT));
      kernel.ipc.gate = { enter: () => ({ wait: dispatched, release: () => undefined }) };
      const out = kernel.ipc.trap(trap(ep.key));
      dispatch();
      let done: TrapOut | undefined;
      void out.then((o) => (done = o));
      await settle();
      expect(done, `death ${depth} microtasks after dispatch`).toMatchObject({ errname: "EDEADSRCDST" });
      expect(forwarded.filter((k) => k === ep.key).length, JSON.stringify(forwarded)).toBeLessThanOrEqual(1);
    }
  });

  it("recovery - a message for a starting incarnation that dies before it is ready fails at once, and so does one sent after", async () => {
    const client = kernel.table.incarnate("client", who(1)).entry;
    kernel.table.ready(client);
    const ep = kernel.table.incarnate("echo", who(2)).entry; // starting
    const first = kernel.ipc.trap(trap(ep.key));
    await settle();
    kernel.table.markDead(ep, DeathCause.DISCONNECT);
    await expect(first).resolves.toMatchObject({ errname: "EDEADSRCDST" });
    await expect(kernel.ipc.trap(trap(ep.key))).resolves.toMatchObject({ errname: "EDEADSRCDST" });
    expect(forwarded).toEqual([]);
  });
});

describe("the endpoint table's waiters", () => {
  it("recovery - a waiter for a generation after N is woken by the first ready one above N, however many die starting before it", async () => {
    const clock = new ManualClock();
    const table = new EndpointTable(clock);
    const first = table.incarnate("vfs", who(1)).entry;
    table.ready(first);
    const waits = [table.waitReady("vfs", 1, 60_000), table.waitReady("vfs", 0, 60_000)];
    await expect(waits[1]).resolves.toMatchObject({ generation: 1 });
    for (let g = 2; g < 6; g++) table.incarnate("vfs", who(g)); // each supersedes the last before it is ready
    const live = table.incarnate("vfs", who(6)).entry;
    table.ready(live);
    await expect(waits[0]).resolves.toMatchObject({ generation: 6 });
    expect(table.waiting).toBe(0);
  });

  it("recovery - a listener that throws on ready does not keep the waiters asleep", async () => {
    const clock = new ManualClock();
    const table = new EndpointTable(clock);
    table.onChange((kind) => {
      if (kind === "ready") throw new Error("a listener's bug");
    });
    const e = table.incarnate("vfs", who(1)).entry;
    const w = table.waitReady("vfs", 0, 60_000);
    expect(() => table.ready(e)).toThrow();
    await expect(w).resolves.toMatchObject({ generation: 1 });
  });
});

/**
 * A Sys (libsys's own) over a transport whose kernel is a real EndpointTable on the manual
 * clock: SYS_GETINFO waits as the kernel's does; a sendrec to `label#g` answers when g is
 * live and ready, and fails as the kernel would otherwise (EDEADSRCDST), or never answers
 * while `hung` names it. `boot` stands for the kernel-core the caller registered with.
 */
function fakeSys(
  clock: ManualClock,
  kernel: () => EndpointTable,
  o: { hung?: Set<string>; boot?: () => string } = {},
): Sys & { sent: string[] } {
  const sent: string[] = [];
  const sendrec = async (dst: string, type: number, args: object | undefined): Promise<RawReply> => {
    const table = kernel();
    if (dst === "kernel" && type === SysCall.SYS_GETINFO) {
      const e = await table.waitReady(String(prop(args, "label")), Number(prop(args, "after")), Number(prop(args, "waitMs")));
      return { args: { endpoints: table.list().filter((r) => r.endpoint === e.key) }, data: EMPTY };
    }
    sent.push(dst);
    const [label, g] = dst.split("#");
    const cur = table.get(label);
    if (!cur || cur.generation !== Number(g) || cur.state === "dead") throw new MkError("EDEADSRCDST", `${dst} is dead`);
    if (o.hung?.has(dst)) {
      // Answers only with the incarnation's death (as the kernel's untilDeath does).
      return new Promise((_, reject) => {
        const check = () => (cur.state === "dead" ? reject(new MkError("EDEADSRCDST", `${dst} died`)) : clock.setTimeout(check, 10));
        check();
      });
    }
    return { args: {}, data: EMPTY };
  };
  const transport: Transport = {
    label: "client",
    placement: "user",
    connection: () => "c1",
    sendrec,
    send: async () => undefined,
    notify: async () => undefined,
    events: async () => ({ stop: () => undefined }),
    listen: async () => undefined,
    close: async () => undefined,
    panic: (err: unknown): never => {
      throw err;
    },
  };
  const sys = new SysImpl(transport, log, clock);
  sys.generation = 1;
  Object.defineProperty(sys, "kernelBoot", { get: () => o.boot?.() ?? "boot-1" });
  return Object.assign(sys, { sent });
}

describe("Recovering: a client following a server across its incarnations", () => {
  it("recovery - a run of hangs, each replaced before or after it was ready, never strands a request: it reaches the first live incarnation", async () => {
    const clock = new ManualClock();
    const table = new EndpointTable(clock);
    const hung = new Set<string>();
    const sys = fakeSys(clock, () => table, { hung });
    const rec = new Recovering(sys, "vfs", { waitMs: 60_000, maxRetries: 1000 });
    let e: EndpointEntry = table.incarnate("vfs", who(1)).entry;
    table.ready(e);
    hung.add(e.key);
    let result: unknown;
    const call = rec
      .call((dst) => sys.sendrec(dst, Common.COMMON_PING, {}))
      .then(
        (r) => (result = r),
        (err) => (result = err),
      );
    // vfs hangs again and again, a fraction of a second apart: some die starting, some ready.
    for (let g = 2; g < 30; g++) {
      await settle(3);
      clock.advance(300);
      e = table.incarnate("vfs", who(g)).entry; // supersedes the hung or starting one
      if (g % 3 !== 0) {
        table.ready(e);
        if (g < 29) hung.add(e.key);
      }
    }
    for (let i = 0; i < 20 && result === undefined; i++) {
      await settle(3);
      clock.advance(100);
    }
    await call;
    expect(result).toEqual({ args: {}, data: EMPTY });
    expect(sys.sent.at(-1)).toBe("vfs#29");
    expect(rec.generation).toBe(29);
  });

  it("recovery - after kernel-core restarted and numbered the server from 1 again, a client that knew generation 3 finds the new one", async () => {
    const clock = new ManualClock();
    let boot = "boot-1";
    let table = new EndpointTable(clock);
    const sys = fakeSys(clock, () => table, { boot: () => boot });
    for (let g = 1; g <= 3; g++) table.ready(table.incarnate("mfs", who(g)).entry);
    const rec = new Recovering(sys, "mfs", { waitMs: 60_000 });
    await rec.call((dst) => sys.sendrec(dst, Common.COMMON_PING, {}));
    expect(rec.generation).toBe(3);
    // kernel-core and mfs die together; the new kernel (a new table) numbers mfs from 1.
    boot = "boot-2";
    table = new EndpointTable(clock);
    table.ready(table.incarnate("mfs", who(10)).entry);
    let result: unknown;
    void rec
      .call((dst) => sys.sendrec(dst, Common.COMMON_PING, {}))
      .then(
        (r) => (result = r),
        (err) => (result = err),
      );
    for (let i = 0; i < 50 && result === undefined; i++) {
      await settle(3);
      clock.advance(100);
    }
    expect(result).toEqual({ args: {}, data: EMPTY });
    expect(rec.generation).toBe(1);
  });
});
