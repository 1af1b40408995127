// The IPC primitives over real NATS, to a user-placement server (echo, started by the
// test with ts.serve): one-way send and coalescing notify arrive with the source the
// kernel stamped and their kind; a sendrec's Mk-Timeout is the kernel's deadline for the
// destination's reply, answered with ETIMEDOUT, after which the server serves on. The
// reply-direct path (the label `direct`, whose table entry chooses it for echo, rdsrv and
// ata): the server answers the caller itself, into the caller's inbox (a standing grant to
// answer the labels that may message it, never a NATS response grant); a death ends what
// was sent at once; a hostile server can answer no one else, and only what it was asked.
import { headers, type Msg } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bdev, Common, H, Kind, NOTIFY_MESSAGE, Subjects, SysCall } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import {
  createLogger,
  FsClient,
  loadChannelCredential,
  loadCredential,
  NatsTransport,
  startService,
  sysGetEndpoints,
  traceRequest,
  type RunningService,
  type ServiceModule,
} from "#libsys";
import { bootTestSystem, runMkctl, type TestSystem } from "../helpers/system.ts";

/**
 * direct: sends to echo, rdsrv and ata by reply-direct. chan: to chsrv and ata by
 * channel; chan2 also has a channel to chsrv (a second caller, to steal tokens from).
 */
const PATH_SERVICES = `
  direct:
    ipc: [echo, rdsrv, ata, vfs]
    paths: { echo: reply-direct, rdsrv: reply-direct, ata: reply-direct }
    block: { ata: { raw: rw } }
    calls: [getinfo]
  rdsrv:
    ipc: []
  chan:
    ipc: [chsrv, ata, echo]
    paths: { chsrv: channel, ata: channel }
    block: { ata: { raw: rw } }
    calls: [getinfo]
  chan2:
    ipc: [chsrv]
    paths: { chsrv: channel }
    calls: [getinfo]
  chsrv:
    ipc: []
`;

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
  ts = await bootTestSystem({ services: PATH_SERVICES });
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

/** The labels of a reply's hop trail (`who@µs,...`), in order. */
const trail = (hops: string | undefined) => (hops ?? "").split(",").map((h) => h.slice(0, h.indexOf("@")));

/**
 * A server that answers a ping, and holds one whose body starts with HOLD (every one, with
 * holdAll) until the test calls its release (in `holds`; never, if nobody does).
 */
function heldServer(label: "rdsrv" | "chsrv", seen: string[], holds: (() => void)[] = [], holdAll = false): ServiceModule {
  return {
    label,
    create: () => ({
      handlers: {
        [Common.COMMON_PING]: async (r) => {
          seen.push(r.source);
          if (holdAll || r.data[0] === HOLD) await new Promise<void>((release) => holds.push(release));
          return {};
        },
      },
    }),
  };
}

describe("ipc: the reply-direct path", () => {
  it("reply-direct - a sendrec to an incarnation comes back from the server itself (caller, kernel, server: no kernel stamp after the server); to a bare label, by the trap", async () => {
    const d = await ts.client("direct");
    const r = await d.sys.sendrec(echo.sys.self, Common.COMMON_PING, {});
    expect(r.args).toEqual({});
    expect(trail(r.hops)).toEqual(["direct", "kernel", "echo"]);
    // The server saw the source the kernel stamped, as on the trap path.
    expect(requests.at(-1)).toMatchObject({ kind: Kind.SENDREC, source: d.sys.self });
    // A bare label: the caller could not tell whose death ends it, so the trap carries it.
    expect(trail((await d.sys.sendrec("echo", Common.COMMON_PING, {})).hops)).toEqual(["direct", "kernel", "echo", "kernel"]);
    // The same pair from a caller whose table says nothing: the trap, both ways.
    const c = await ts.client();
    expect(trail((await c.sys.sendrec(echo.sys.self, Common.COMMON_PING, {})).hops)).toEqual(["client", "kernel", "echo", "kernel"]);
    // Sector data rides the same way: a 4 KiB read from the ATA driver, byte for byte.
    const ata = (await sysGetEndpoints(d.sys)).find((e) => e.label === "ata" && e.state === "ready")!.endpoint;
    const written = new Uint8Array(4096).map((_, i) => (i * 13) & 0xff);
    await d.sys.sendrec(ata, Bdev.BDEV_WRITE, { minor: 0, lba: 64, count: 8 }, written);
    const read = await d.sys.sendrec(ata, Bdev.BDEV_READ, { minor: 0, lba: 64, count: 8 });
    expect(trail(read.hops)).toEqual(["direct", "kernel", "ata"]);
    expect(Buffer.from(read.data).equals(Buffer.from(written))).toBe(true);
  });

  it("reply-direct - errors and denials are the kernel's, as on the trap: a dead incarnation EDEADSRCDST, a label outside the ipc list ECALLDENIED, a server's errno intact", async () => {
    const d = await ts.client("direct");
    const gen = echo.sys.generation;
    await expect(d.sys.sendrec(`echo#${gen + 7}`, Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    await expect(d.sys.sendrec(`tty#1`, Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "ECALLDENIED" });
    // The ATA driver refuses a read past the disk's end: its own errno and words come back as the trap path brings them.
    const ata = (await sysGetEndpoints(d.sys)).find((e) => e.label === "ata" && e.state === "ready")!.endpoint;
    const past = { minor: 0, lba: 0x7fffffff, count: 1 };
    const viaTrap = await (await ts.client()).sys.sendrec(ata, Bdev.BDEV_READ, past).catch((e: unknown) => e);
    const direct = await d.sys.sendrec(ata, Bdev.BDEV_READ, past).catch((e: unknown) => e);
    expect(viaTrap).toMatchObject({ errno: expect.stringMatching(/^E/) });
    expect(direct).toMatchObject({ errno: (viaTrap as { errno: string }).errno });
  });

  it("reply-direct - a server that dies holding a request: the caller's sendrec fails with EDEADSRCDST at once (the kernel's death notice), not at its deadline; the next incarnation serves", async () => {
    const d = await ts.client("direct");
    const seen: string[] = [];
    // Its own transport, so the test can end its connection as a crash does (no SYS_EXIT).
    const { svc: first, transport } = await serveOwn(heldServer("rdsrv", seen));
    const target = first.sys.self;
    const t0 = systemClock.now();
    const pending = d.sys.sendrec(target, Common.COMMON_PING, {}, new Uint8Array([HOLD]), 20_000);
    await wait(() => (seen.includes(d.sys.self) ? true : undefined), "rdsrv to hold the request");
    await transport.nc.close(); // the crash: the kernel sees the connection go, marks rdsrv dead and says so
    await expect(pending).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    expect(systemClock.now() - t0).toBeLessThan(10_000);
    // A request sent to it afterwards is refused by the kernel, never forwarded.
    await expect(d.sys.sendrec(target, Common.COMMON_PING, {})).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    const second = await ts.serve(heldServer("rdsrv", seen));
    expect(second.sys.generation).toBeGreaterThan(first.sys.generation);
    expect(trail((await d.sys.sendrec(second.sys.self, Common.COMMON_PING, {})).hops)).toEqual(["direct", "kernel", "rdsrv"]);
    await second.stop();
  });

  it("reply-direct - a hostile server answers only who may ask it, and only what it was asked: an answer into another's inbox is refused by NATS; a second answer and answers to guessed request ids are dropped; the caller takes exactly one reply to each request", async () => {
    const d = await ts.client("direct");
    const seen: string[] = [];
    const holds: (() => void)[] = [];
    const srv = await ts.serve(heldServer("rdsrv", seen, holds));
    // A second connection with rdsrv's own credential, on its endpoint subject: it gets the request too.
    const hostile = await ts.raw("rdsrv");
    const refused: string[] = [];
    void (async () => {
      for await (const st of hostile.status()) if (st.type === "error") refused.push(String((st as { error?: Error }).error?.message));
    })();
    const replies: string[] = [];
    // Answers with a body the real server never sends: a caller that took one would see it.
    const answer = (subject: string) => {
      const h = headers();
      h.set(H.status, "0");
      hostile.publish(subject, new TextEncoder().encode("forged"), { headers: h });
    };
    hostile.subscribe(Subjects.endpoint("rdsrv", srv.sys.generation), {
      callback: (_e, m: Msg) => {
        if (!m.reply) return;
        replies.push(m.reply);
        answer(m.reply);
        answer(m.reply); // a replay
        // Request ids near this one, as a sequence number would put them: the caller's next requests.
        const at = m.reply.lastIndexOf(".");
        for (let i = 0; i < 50; i++) answer(`${m.reply.slice(0, at + 1)}${i.toString(36)}`);
        answer("_INBOX.client.x.1"); // the inbox of a label that may not message rdsrv
        answer("_INBOX.direct.x.1"); // the caller's inbox outside its sub-inbox for direct answers (its kernel calls' answers)
      },
    });
    await hostile.flush();
    const r = await d.sys.sendrec(srv.sys.self, Common.COMMON_PING, {});
    await wait(() => (replies.length > 0 ? true : undefined), "the hostile connection to get the request");
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(/^_INBOX\.direct\.rd\./);
    // One answer won (the real server's, empty, or the hostile one's).
    expect(["", "forged"]).toContain(new TextDecoder().decode(r.data));
    await wait(
      () =>
        refused.some((e) => e.includes("_INBOX.client.x.1")) && refused.some((e) => e.includes("_INBOX.direct.x.1")) ? true : undefined,
      "NATS to refuse the foreign inbox and the caller's own outside its sub-inbox",
    );
    // The next requests (a kernel call, a request held by the real server) are answered by
    // those asked: no replayed or guessed answer matched their ids.
    const info = await d.sys.kernelCall(SysCall.SYS_GETINFO, { what: "endpoint", label: "rdsrv" });
    expect(new TextDecoder().decode(info.data)).not.toBe("forged");
    hostile.close();
    const next = d.sys.sendrec(srv.sys.self, Common.COMMON_PING, {}, new Uint8Array([HOLD]));
    await wait(() => (holds.length > 0 ? true : undefined), "the real server to hold the second request");
    holds.shift()!();
    expect((await next).data).toHaveLength(0);
    await srv.stop();
  });
});

describe("ipc: collusion through reply subjects", () => {
  /** NATS's refusals on a raw connection, as they come. */
  const errorsOf = (nc: Awaited<ReturnType<TestSystem["raw"]>>): string[] => {
    const out: string[] = [];
    void (async () => {
      for await (const st of nc.status()) if (st.type === "error") out.push(String((st as { error?: Error }).error?.message));
    })();
    return out;
  };
  /** A send as client, with no reply subject: were it published, the kernel would run it as client's. */
  const forged = () => {
    const h = headers();
    h.set(H.type, String(Common.COMMON_PING));
    h.set(H.dst, "echo");
    h.set(H.kind, Kind.SEND);
    return h;
  };

  it("collusion - a server that answers into a caller's inbox with a reply subject of its choosing (a trap as another label) gives the caller no right to publish there, on a channel or by reply-direct", async () => {
    const victim = await ts.client();
    const fromVictim = () => requests.filter((r) => r.source === victim.sys.self).length;
    const before = fromVictim();
    // The channel: the server's channel user may publish into chan's channel inbox, with any reply subject.
    const caller = await ts.raw("chan");
    const callerRefused = errorsOf(caller);
    const got: string[] = [];
    caller.subscribe("_INBOX.chan.>", {
      callback: (_e, m: Msg) => {
        if (!m.reply) return;
        got.push(m.reply);
        m.respond(new Uint8Array(0), { headers: forged() });
      },
    });
    await caller.flush();
    const server = await ts.raw("chsrv@ch");
    server.publish("_INBOX.chan.ch.chsrv.anytoken.1", new Uint8Array(0), { reply: Subjects.trap("client") });
    await server.flush();
    await wait(
      () => (callerRefused.some((e) => /Permissions Violation for Publish to "mk\.trap\.client"/.test(e)) ? true : undefined),
      "NATS to refuse the caller's publish",
    );
    expect(got).toEqual([Subjects.trap("client")]);

    // reply-direct: the server answers the caller (into its inbox) and names a reply subject.
    // The real rdsrv holds the request until the end, so the hostile connection's answer is the one taken.
    const holds: (() => void)[] = [];
    const srv = await ts.serve(heldServer("rdsrv", [], holds, true));
    const accomplice = await ts.raw("direct");
    const accompliceRefused = errorsOf(accomplice);
    accomplice.subscribe("_INBOX.direct.>", {
      callback: (_e, m: Msg) => {
        if (m.reply) m.respond(new Uint8Array(0), { headers: forged() });
      },
    });
    await accomplice.flush();
    const hostile = await ts.raw("rdsrv");
    hostile.subscribe(Subjects.endpoint("rdsrv", srv.sys.generation), {
      callback: (_e, m: Msg) => {
        if (!m.reply) return;
        const h = headers();
        h.set(H.status, "0");
        hostile.publish(m.reply, new Uint8Array(0), { headers: h, reply: Subjects.trap("client") });
      },
    });
    await hostile.flush();
    const d = await ts.client("direct");
    await d.sys.sendrec(srv.sys.self, Common.COMMON_PING, {}, new Uint8Array(0), 3000).catch(() => undefined);
    await wait(
      () => (accompliceRefused.some((e) => /Permissions Violation for Publish to "mk\.trap\.client"/.test(e)) ? true : undefined),
      "NATS to refuse the accomplice's publish",
    );
    hostile.close();
    for (const release of holds.splice(0)) release();
    await srv.stop();
    // Nothing reached echo as the victim's.
    expect(fromVictim()).toBe(before);
  });
});

/** A server of its own transport: the test reads its refusal count, and can end its connection as a crash does. */
async function serveOwn(module: ServiceModule): Promise<{ svc: RunningService; transport: NatsTransport }> {
  const file = ts.sys.credFile(module.label);
  const transport = await NatsTransport.connect(module.label, loadCredential(file), undefined, loadChannelCredential(file));
  const log = createLogger(module.label);
  log.level = "warn";
  return { svc: await startService(module, transport, { log }), transport };
}

/** A raw request on a subject with the caller's headers, answered (or not) within ms. */
async function rawRequest(nc: Awaited<ReturnType<TestSystem["raw"]>>, subject: string, reply: string, ms = 1500) {
  const got = new Promise<Msg | undefined>((resolve) => {
    const sub = nc.subscribe(reply, { max: 1, callback: (_e, m) => resolve(m) });
    setTimeout(() => (sub.unsubscribe(), resolve(undefined)), ms);
  });
  const h = headers();
  h.set(H.type, String(Common.COMMON_PING));
  nc.publish(subject, new Uint8Array(0), { headers: h, reply });
  return got;
}

describe("ipc: the channel path", () => {
  it("channel - once the kernel opened it, a sendrec goes caller -> server -> caller with no kernel between; the server sees the caller's incarnation; sectors arrive byte for byte", async () => {
    const seen: string[] = [];
    const { svc } = await serveOwn(heldServer("chsrv", seen));
    const c = await ts.client("chan");
    const r = await c.sys.sendrec(svc.sys.self, Common.COMMON_PING, {});
    expect(trail(r.hops)).toEqual(["chan", "chsrv"]);
    expect(seen).toEqual([c.sys.self]);
    // To the bare label (whose death could not be told apart), by the trap.
    expect(trail((await c.sys.sendrec("chsrv", Common.COMMON_PING, {})).hops)).toEqual(["chan", "kernel", "chsrv", "kernel"]);
    // To a label the table gives it no channel to (echo is in its ipc list only): the trap.
    expect(trail((await c.sys.sendrec(echo.sys.self, Common.COMMON_PING, {})).hops)).toEqual(["chan", "kernel", "echo", "kernel"]);
    const ata = (await sysGetEndpoints(c.sys)).find((e) => e.label === "ata" && e.state === "ready")!.endpoint;
    const written = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);
    await c.sys.sendrec(ata, Bdev.BDEV_WRITE, { minor: 0, lba: 96, count: 8 }, written);
    const read = await c.sys.sendrec(ata, Bdev.BDEV_READ, { minor: 0, lba: 96, count: 8 });
    expect(trail(read.hops)).toEqual(["chan", "ata"]);
    expect(Buffer.from(read.data).equals(Buffer.from(written))).toBe(true);
    await svc.stop();
  });

  it("channel - the table decides: SYS_CHANNEL for a pair it does not name, or to a bare label, is refused and counted; COMMON_CHANNEL from a caller is ECALLDENIED", async () => {
    const { svc } = await serveOwn(heldServer("chsrv", []));
    const d = await ts.client("direct"); // no channel in its table entry
    const denials = /mk_denials_total\{call="channel",reason="channel"\} (\d+)/;
    const before = await metric(denials);
    await expect(d.sys.kernelCall(SysCall.SYS_CHANNEL, { dst: echo.sys.self })).rejects.toMatchObject({ errno: "ECALLDENIED" });
    await expect(d.sys.kernelCall(SysCall.SYS_CHANNEL, { dst: svc.sys.self })).rejects.toMatchObject({ errno: "ECALLDENIED" });
    const c = await ts.client("chan");
    await expect(c.sys.kernelCall(SysCall.SYS_CHANNEL, { dst: "chsrv" })).rejects.toMatchObject({ errno: "EINVAL" });
    await expect(c.sys.kernelCall(SysCall.SYS_CHANNEL, { dst: `chsrv#${svc.sys.generation + 5}` })).rejects.toMatchObject({
      errno: "EDEADSRCDST",
    });
    // Only the kernel opens channels: a caller's own COMMON_CHANNEL would plant a token. The
    // kernel refuses it on the trap (counted); the server refuses it on a channel.
    const token = "0123456789abcdef01234567";
    const plant = { op: "open" as const, src: c.sys.self, token };
    await expect(c.sys.sendrec("chsrv", Common.COMMON_CHANNEL, plant)).rejects.toMatchObject({ errno: "ECALLDENIED" });
    await expect(c.sys.sendrec(svc.sys.self, Common.COMMON_CHANNEL, plant)).rejects.toMatchObject({ errno: "ECALLDENIED" });
    expect(await metric(denials)).toBe(before + 3);
    await svc.stop();
  });

  it("channel - hostile callers: a forged token, another caller's token, a message after revocation, a reply subject not the caller's: each refused and counted, the server unharmed", async () => {
    const seen: string[] = [];
    const { svc, transport } = await serveOwn(heldServer("chsrv", seen));
    const dst = svc.sys.self;
    const c = await ts.client("chan");
    const { subject, token } = (await c.sys.kernelCall(SysCall.SYS_CHANNEL, { dst })).args;
    expect(subject).toBe(`mk.ch.chsrv.${svc.sys.generation}.chan.${token}`);
    const chan2 = await ts.raw("chan2");
    const rogue = await ts.raw("chan");
    const refusedAnswer = (m: Msg | undefined) => ({ errname: m?.headers?.get(H.errname), detail: m?.headers?.get(H.errdetail) });
    const revoked = { errname: "EBADSRCDST", detail: '{"arg":"channel"}' };
    // A token chan2 made up, and chan's own token used on chan2's subject: no channel has it for chan2.
    const forged = "f".repeat(24);
    const gen = svc.sys.generation;
    expect(refusedAnswer(await rawRequest(chan2, `mk.ch.chsrv.${gen}.chan2.${forged}`, `_INBOX.chan2.ch.chsrv.${forged}.t1`))).toEqual(
      revoked,
    );
    expect(refusedAnswer(await rawRequest(chan2, `mk.ch.chsrv.${gen}.chan2.${token}`, `_INBOX.chan2.ch.chsrv.${token}.t2`))).toEqual(
      revoked,
    );
    // chan's subject itself: NATS refuses chan2's publish (only chan's user may), so nothing arrives.
    expect(await rawRequest(chan2, subject, "_INBOX.chan2.t3", 500)).toBeUndefined();
    // The right subject, but a reply subject in another's inbox: never answered.
    const before = transport.channelRefusals;
    rogue.publish(subject, new Uint8Array(0), { reply: "_INBOX.chan2.t4", headers: headers() });
    await rogue.flush();
    await wait(() => (transport.channelRefusals > before ? true : undefined), "chsrv to refuse the foreign reply subject");
    expect(seen).toEqual([]);
    // The channel is good for chan's live incarnation (its own connection, the same user).
    const ok = await rawRequest(rogue, subject, `_INBOX.chan.ch.chsrv.${token}.t5`);
    expect(ok?.headers?.get(H.status)).toBe("0");
    expect(seen).toEqual([c.sys.self]);
    // chan's incarnation ends: the kernel revokes its channel; the token is worth nothing now.
    await c.stop();
    await wait(
      async () =>
        refusedAnswer(await rawRequest(rogue, subject, `_INBOX.chan.ch.chsrv.${token}.t6`, 300)).errname === "EBADSRCDST"
          ? true
          : undefined,
      "the revocation",
    );
    expect(seen).toEqual([c.sys.self]);
    expect(transport.channelRefusals).toBeGreaterThanOrEqual(before + 2);
    // And the server serves on, by channel, for the next caller.
    const c2 = await ts.client("chan");
    expect(trail((await c2.sys.sendrec(dst, Common.COMMON_PING, {})).hops)).toEqual(["chan", "chsrv"]);
    await svc.stop();
  });

  it("channel - a caller and a server in collusion get no way out: the server reads channels with a user that has no response grants, so a reply subject the caller names (a kernel subject) cannot be published to", async () => {
    const { svc } = await serveOwn(heldServer("chsrv", []));
    const c = await ts.client("chan");
    const { subject } = (await c.sys.kernelCall(SysCall.SYS_CHANNEL, { dst: svc.sys.self })).args;
    // Who hears mk.kernel.boot: every service. Watch for a forged announcement.
    const watcher = await ts.raw("chan2");
    const heard: string[] = [];
    watcher.subscribe(Subjects.kernelBoot, { callback: (_e, m) => void heard.push(m.headers?.get(H.args) ?? "") });
    await watcher.flush();
    const errorsOf = (nc: Awaited<ReturnType<TestSystem["raw"]>>) => {
      const out: string[] = [];
      void (async () => {
        for await (const st of nc.status()) if (st.type === "error") out.push(String((st as { error?: Error }).error?.message));
      })();
      return out;
    };
    // The hostile server: chsrv's own user (which has response grants) may not even read channels.
    const own = await ts.raw("chsrv");
    const ownErrors = errorsOf(own);
    own.subscribe(Subjects.channelsOf("chsrv"), { callback: () => undefined });
    await own.flush().catch(() => undefined);
    // Its channel user may read them, and tries to answer where the caller said.
    const chUser = await ts.raw("chsrv@ch");
    const chErrors = errorsOf(chUser);
    const got: string[] = [];
    chUser.subscribe(Subjects.channelsOf("chsrv"), {
      callback: (_e, m: Msg) => {
        if (!m.reply) return;
        got.push(m.reply);
        const h = headers();
        h.set(H.args, '{"boot":"forged"}');
        chUser.publish(m.reply, new Uint8Array(0), { headers: h });
      },
    });
    await chUser.flush();
    // The hostile caller names a kernel subject as its reply subject.
    const rogue = await ts.raw("chan");
    rogue.publish(subject, new Uint8Array(0), { reply: Subjects.kernelBoot, headers: headers() });
    await rogue.flush();
    await wait(
      () => (got.length > 0 && chErrors.length > 0 && ownErrors.length > 0 ? true : undefined),
      "the answer and the read to be refused",
    );
    expect(got).toEqual([Subjects.kernelBoot]);
    expect(chErrors.join("\n")).toMatch(/Permissions Violation for Publish to "mk\.kernel\.boot"/);
    expect(ownErrors.join("\n")).toMatch(/Permissions Violation for Subscription to "mk\.ch\.chsrv\.>"/);
    await watcher.flush();
    expect(heard.filter((a) => a.includes("forged"))).toEqual([]);
    // The hostile channel reader would answer every later channel request to chsrv: gone before the next test.
    await chUser.close();
    await own.close();
    await svc.stop();
  });

  it("channel - a flood on one channel is bounded for that caller (EAGAIN past its queue), and the other caller's channel is served meanwhile", async () => {
    const holds: (() => void)[] = [];
    const { svc } = await serveOwn(heldServer("chsrv", [], holds));
    const dst = svc.sys.self;
    const c = await ts.client("chan");
    const c2 = await ts.client("chan2");
    const flood = Array.from({ length: 150 }, () =>
      c.sys.sendrec(dst, Common.COMMON_PING, {}, new Uint8Array([HOLD]), 20_000).then(
        () => "ok",
        (e: { errno?: string }) => e.errno ?? "?",
      ),
    );
    await wait(() => (holds.length > 0 ? true : undefined), "chsrv to hold the first of the flood");
    expect(trail((await c2.sys.sendrec(dst, Common.COMMON_PING, {})).hops)).toEqual(["chan2", "chsrv"]);
    // Released as they are held, until every request of the flood is answered.
    let done = false;
    const all = Promise.all(flood).then((o) => ((done = true), o));
    while (!done) {
      for (const release of holds.splice(0)) release();
      await wait(() => (holds.length > 0 || done ? true : undefined), "the next held request of the flood, or its end");
    }
    const outcomes = await all;
    expect(outcomes.filter((o) => o === "EAGAIN").length).toBeGreaterThan(0);
    expect(outcomes.every((o) => o === "ok" || o === "EAGAIN")).toBe(true);
    await svc.stop();
  });

  it("channel - a server that dies holding a request: the caller's sendrec fails with EDEADSRCDST at once; the next incarnation is reached by a new channel", async () => {
    const seen: string[] = [];
    const { svc: first, transport } = await serveOwn(heldServer("chsrv", seen));
    const c = await ts.client("chan");
    expect(trail((await c.sys.sendrec(first.sys.self, Common.COMMON_PING, {})).hops)).toEqual(["chan", "chsrv"]);
    const t0 = systemClock.now();
    const pending = c.sys.sendrec(first.sys.self, Common.COMMON_PING, {}, new Uint8Array([HOLD]), 20_000);
    await wait(() => (seen.length >= 2 ? true : undefined), "chsrv to hold the request");
    await transport.nc.close();
    await expect(pending).rejects.toMatchObject({ errno: "EDEADSRCDST" });
    expect(systemClock.now() - t0).toBeLessThan(10_000);
    const { svc: second } = await serveOwn(heldServer("chsrv", seen));
    expect(trail((await c.sys.sendrec(second.sys.self, Common.COMMON_PING, {})).hops)).toEqual(["chan", "chsrv"]);
    await second.stop();
  });
});

describe("ipc: tracing", () => {
  it("trace - mkctl trace stat follows one request hop by hop, with the calls vfs made for it to mfs nested under it, on one time line", async () => {
    const fs = new FsClient((await ts.client("direct")).sys);
    await fs.writeFile("/traced", new Uint8Array(10));
    const r = runMkctl(ts, "trace", "stat", "/traced", "--count", "3", "--json");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      runs: number;
      total_us: number;
      hops: { from: string; to: string; us: number; depth: number; start_us: number }[];
    };
    expect(out.runs).toBe(3);
    // The request itself: mkctl's instance traps into the kernel, which forwards to vfs, and back.
    const top = out.hops.filter((h) => h.depth === 0).map((h) => `${h.from.split(".")[0]}>${h.to}`);
    expect(top).toEqual(["mkctl>kernel", "kernel>vfs", "vfs>kernel", "kernel>client"]);
    // vfs's own call to mfs for the attributes, nested under the request, from vfs to mfs.
    const nested = out.hops.filter((h) => h.depth === 1);
    expect(nested[0]?.from).toBe("vfs");
    expect(nested.map((h) => h.to)).toContain("mfs");
    expect(out.hops[0].start_us).toBe(0);
    expect(out.total_us).toBeGreaterThan(0);
    // The table form says the same for a person.
    const text = runMkctl(ts, "trace", "ping", "ata", "--count", "1");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/kernel > ata/);
  });
});

describe("ipc: tracing a hostile server", () => {
  it("trace - a server's far-off stamps are its word only within the run: every hop is clamped into the round trip, so no reader draws or allocates by them", async () => {
    // rdsrv's own handler holds every ping until the test ends; a second connection of rdsrv's user answers first with a forged trail.
    const holds: (() => void)[] = [];
    const { svc } = await serveOwn(heldServer("rdsrv", [], holds, true));
    const forger = await ts.raw("rdsrv");
    forger.subscribe(Subjects.endpoint("rdsrv", svc.sys.generation), {
      callback: (_e, m: Msg) => {
        const h = headers();
        h.set(H.status, "0");
        h.set(H.hops, `${m.headers?.get(H.hops) ?? ""},rdsrv@${Date.now() * 1000 + 1e12},rdsrv@1`);
        m.respond(new Uint8Array(0), { headers: h });
      },
    });
    await forger.flush();
    const d = await ts.client("direct");
    const t = await traceRequest(d.sys, "ping", "rdsrv", 3);
    expect(t.hops.some((h) => h.from === "rdsrv" || h.to === "rdsrv")).toBe(true);
    for (const h of t.hops) {
      expect(h.us, `${h.from}>${h.to}`).toBeGreaterThanOrEqual(0);
      expect(h.us, `${h.from}>${h.to}`).toBeLessThanOrEqual(t.total_us);
      expect(h.start_us).toBeLessThanOrEqual(t.total_us);
    }
    for (const release of holds.splice(0)) release();
    await svc.stop();
  });
});

describe("ipc: per-path latency", () => {
  it("paths - callers report their round trips by path (SYS_IPCSTAT): trap, reply-direct and channel each counted in mk_ipc_roundtrip_seconds, and a channel's traffic, which the kernel never sees, becomes an edge of the statistics", async () => {
    const count = (path: string) => metric(new RegExp(`^mk_ipc_roundtrip_seconds_count\\{path="${path}"\\} (\\d+)`, "m"));
    const before = { trap: await count("trap"), direct: await count("reply-direct"), channel: await count("channel") };
    const stats = await ts.raw("dashboard");
    const channelEdges: number[] = [];
    stats.subscribe("mk.stat", {
      callback: (_e, m: Msg) => {
        const s = JSON.parse(new TextDecoder().decode(m.data)) as { edges: [string, string, number][] };
        channelEdges.push(s.edges.find(([f, t]) => f === "chan" && t === "chsrv")?.[2] ?? 0);
      },
    });
    const { svc } = await serveOwn(heldServer("chsrv", []));
    const d = await ts.client("direct");
    const c = await ts.client("chan");
    for (let i = 0; i < 5; i++) await d.sys.sendrec(echo.sys.self, Common.COMMON_PING, {});
    for (let i = 0; i < 3; i++) await d.sys.sendrec("echo", Common.COMMON_PING, {});
    for (let i = 0; i < 7; i++) await c.sys.sendrec(svc.sys.self, Common.COMMON_PING, {});
    // Reported within a second or so of the round trips.
    await waitUntil(
      async () =>
        (await count("reply-direct")) >= before.direct + 5 &&
        (await count("channel")) >= before.channel + 7 &&
        (await count("trap")) >= before.trap + 3
          ? true
          : undefined,
      { clock: systemClock, deadlineMs: 10_000, what: "the round trips reported by path", intervalMs: 200 },
    );
    await waitUntil(() => (channelEdges.some((n) => n >= 7) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "chan > chsrv in the statistics' edges",
      intervalMs: 100,
    });
    // The histogram's sum is the callers' time: a few hundred µs a round trip, not zero, not seconds.
    const sum = await metric(/^mk_ipc_roundtrip_seconds_sum\{path="channel"\} ([\d.e-]+)/m);
    expect(sum).toBeGreaterThan(0);
    expect(sum / (await count("channel"))).toBeLessThan(1);
    await svc.stop();
  });

  it("paths - a hostile report is refused whole and counts nothing: a pair outside the caller's ipc, a path the pair cannot take, buckets that do not add up to the count, an unknown path, too many rows, a second report within 500 ms", async () => {
    const d = await ts.client("direct");
    const total = () => metric(/^mk_ipc_roundtrip_seconds_count\{path="trap"\} (\d+)/m);
    // Other clients' own reports may land meanwhile: a few round trips each, far below one refused row's 1,000.
    const before = await total();
    const buckets = (n: number) => [n, ...new Array(15).fill(0)];
    const good = { path: "trap", dst: "echo", count: 1000, sum_us: 1000, buckets: buckets(1000) };
    const send = (rows: unknown[]) => d.sys.transport.sendrec("kernel", SysCall.SYS_IPCSTAT, { rows }, new Uint8Array(0));
    await expect(send([good, { ...good, dst: "tty" }])).rejects.toMatchObject({
      errno: "EINVAL",
      message: expect.stringMatching(/rows\[1\].*may not message tty/),
    });
    await expect(send([good, { ...good, count: 999 }])).rejects.toMatchObject({
      errno: "EINVAL",
      message: expect.stringMatching(/buckets hold 1000 round trips, count says 999/),
    });
    await expect(send([good, { ...good, buckets: [1000] }])).rejects.toMatchObject({ errno: "EINVAL" });
    await expect(send([{ ...good, path: "teleport" }])).rejects.toMatchObject({ errno: "EBADREQUEST" });
    await expect(send(new Array(65).fill(good))).rejects.toMatchObject({ errno: "EBADREQUEST" });
    await expect(send([{ ...good, count: 2_000_000, buckets: buckets(2_000_000) }])).rejects.toMatchObject({ errno: "EBADREQUEST" });
    // A path the pair cannot take: direct reaches echo by reply-direct (or the trap), never by a channel; ata is not in kernel-core.
    await expect(send([good, { ...good, path: "channel" }])).rejects.toMatchObject({
      errno: "EINVAL",
      message: expect.stringMatching(/rows\[1\].*go by trap or reply-direct, not channel/),
    });
    await expect(send([{ ...good, dst: "ata", path: "in-kernel" }])).rejects.toMatchObject({ errno: "EINVAL" });
    // None of the good rows beside the bad ones was counted (this test's own traffic is kernel calls, not counted).
    expect((await total()) - before).toBeLessThan(1000);
    // One report per incarnation per 500 ms: a flood of reports is EAGAIN, and counts nothing.
    const small = { ...good, count: 1, sum_us: 100, buckets: buckets(1) };
    await send([small]);
    await expect(send([small])).rejects.toMatchObject({ errno: "EAGAIN" });
    expect((await total()) - before).toBeLessThan(1000);
  });
});
