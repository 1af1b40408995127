// The IPC primitives over real NATS, to a user-placement server (echo, started by the
// test with ts.serve): one-way send and coalescing notify arrive with the source the
// kernel stamped and their kind; a sendrec's Mk-Timeout is the kernel's deadline for the
// destination's reply, answered with ETIMEDOUT, after which the server serves on.
import { headers, type Msg } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Common, H, Kind, NOTIFY_MESSAGE, Subjects } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { sysGetEndpoints, type RunningService, type ServiceModule } from "#libsys";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

/** A COMMON_PING whose body starts with this byte is held until the test releases it. */
const HOLD = 0x48;

interface Seen {
  kind: string;
  source: string;
  reqId: string;
}

let ts: TestSystem;
let echo: RunningService;
const requests: Seen[] = [];
const notified: { source: string; bits: number }[] = [];
/** Notifications as they crossed the wire to echo's endpoint subject (a second subscriber with echo's credential). */
const onTheWire: Record<string, string | undefined>[] = [];
const held: (() => void)[] = [];

const echoModule: ServiceModule = {
  label: "echo",
  create: () => ({
    notify: (source, bits) => void notified.push({ source, bits }),
    handlers: {
      [Common.COMMON_PING]: async (r) => {
        requests.push({ kind: r.kind, source: r.source, reqId: r.reqId });
        if (r.data[0] === HOLD) await new Promise<void>((release) => held.push(release));
        return {};
      },
    },
  }),
};

const wait = <T>(check: () => Promise<T | undefined> | T | undefined, what: string) =>
  waitUntil(check, { clock: systemClock, deadlineMs: 5000, what, intervalMs: 10 });

async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  ts = await bootTestSystem();
  echo = await ts.serve(echoModule);
  const spy = await ts.raw("echo");
  spy.subscribe(Subjects.endpoint("echo", echo.sys.generation), {
    callback: (_e, m: Msg) => {
      if (m.headers?.get(H.kind) !== Kind.NOTIFY) return;
      onTheWire.push(Object.fromEntries([H.type, H.kind, H.src, H.dst, H.args].map((k) => [k, m.headers?.get(k)])));
    },
  });
  await spy.flush();
});
afterAll(async () => {
  for (const release of held.splice(0)) release();
  await ts?.down();
});

describe("ipc over NATS", () => {
  it("ipc - send and notify reach a user-placement server with the kernel-stamped source and their kind; notify bits coalesce", async () => {
    const c = await ts.client();
    const self = c.sys.self;
    expect(self).toMatch(/^client#\d+$/);

    // send: one way, acknowledged once echo has queued it; echo sees kind send.
    await c.sys.send("echo", Common.COMMON_PING, {});
    expect(await wait(() => requests.find((r) => r.source === self), "echo to receive the send")).toMatchObject({
      kind: Kind.SEND,
      source: self,
    });
    await c.sys.sendrec("echo", Common.COMMON_PING, {});
    expect(requests.filter((r) => r.source === self).map((r) => r.kind)).toEqual([Kind.SEND, Kind.SENDREC]);

    // notify: eight bits sent at once; the kernel ORs what it holds for echo from this
    // caller until it next delivers, so fewer deliveries arrive, carrying every bit.
    const bits = [1, 2, 4, 8, 16, 32, 64, 128];
    await Promise.all(bits.map((b) => c.sys.notify("echo", b)));
    const mine = () => notified.filter((n) => n.source === self);
    await wait(() => (mine().reduce((all, n) => all | n.bits, 0) === 0xff ? true : undefined), "echo to be notified of bits 0xff");
    expect(mine().length).toBeLessThan(bits.length);
    expect(mine().some((n) => n.bits !== (n.bits & -n.bits))).toBe(true); // a delivery with more than one bit
    const wire = onTheWire.filter((h) => h[H.src] === self);
    expect(wire.length).toBe(mine().length);
    for (const h of wire)
      expect(h).toMatchObject({
        [H.type]: String(NOTIFY_MESSAGE),
        [H.kind]: Kind.NOTIFY,
        [H.dst]: echo.sys.self,
        [H.args]: expect.stringMatching(/^\{"bits":\d+\}$/),
      });
  });

  it("ipc - a caller whose ipc list lacks the destination may neither send nor notify it: ECALLDENIED, and a notify is dropped by the kernel", async () => {
    const outsider = await ts.client("client2"); // ipc: [ata, tty]
    const denials = /mk_denials_total\{call="ipc",reason="ipc"\} (\d+)/;
    const before = await metric(denials);
    await expect(outsider.sys.send("echo", Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "ECALLDENIED", code: -104 });
    // notify is not answered (non-blocking): the caller learns nothing; the kernel counts the refusal.
    await outsider.sys.notify("echo", 1);
    await wait(async () => ((await metric(denials)) === before + 2 ? true : undefined), "the kernel to refuse the notify");
    expect(requests.some((r) => r.source === outsider.sys.self)).toBe(false);
    expect(notified.some((n) => n.source === outsider.sys.self)).toBe(false);
  });

  it("ipc - Mk-Timeout is the kernel's deadline for the reply: a server that does not answer in time is ETIMEDOUT at about that timeout, and serves on", async () => {
    const c = await ts.client();
    const nc = await ts.raw("client");
    const TIMEOUT = 400;
    const trap = (timeout: string) => {
      const h = headers();
      h.set(H.type, String(Common.COMMON_PING));
      h.set(H.dst, "echo");
      h.set(H.timeout, timeout);
      // The NATS request itself waits far longer: the answer must be the kernel's.
      return nc.request(Subjects.trap("client"), new Uint8Array([HOLD]), { headers: h, timeout: 20_000 });
    };
    try {
      let t0 = systemClock.now();
      const m = await trap(String(TIMEOUT));
      let took = systemClock.now() - t0;
      expect({ status: m.headers?.get(H.status), errname: m.headers?.get(H.errname) }).toEqual({ status: "-110", errname: "ETIMEDOUT" });
      expect(took).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(took).toBeLessThan(5 * TIMEOUT);

      // libsys's sendrec puts its timeout in Mk-Timeout: the same deadline, the same errno.
      t0 = systemClock.now();
      await expect(c.sys.sendrec("echo", Common.COMMON_PING, {}, new Uint8Array([HOLD]), TIMEOUT)).rejects.toMatchObject({
        errno: "ETIMEDOUT",
        code: -110,
      });
      took = systemClock.now() - t0;
      expect(took).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(took).toBeLessThan(5 * TIMEOUT);
      expect(held.length).toBe(2); // both reached echo, which is still working on them

      // Out of range (1..600000) is refused before anything is routed.
      for (const bad of ["0", "600001", "-1", "soon"]) {
        const r = await trap(bad);
        expect(r.headers?.get(H.errname), bad).toBe("EBADREQUEST");
      }
      expect(held.length).toBe(2);
    } finally {
      for (const release of held.splice(0)) release();
    }
    // echo serves on: the same incarnation answers at once; the late replies went nowhere.
    const r = await c.sys.sendrec("echo", Common.COMMON_PING, {}, new Uint8Array(0), TIMEOUT);
    expect(r.args).toEqual({});
    const row = (await sysGetEndpoints(c.sys)).find((e) => e.label === "echo");
    expect(row).toMatchObject({ endpoint: echo.sys.self, state: "ready" });
  });
});
