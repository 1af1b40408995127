// The dashboard's interface against a real system (docs/dashboard.md): the state it
// builds from the kernel's events and statistics, a kill from the chaos panel healed with
// zero failed workload operations, the workload's rate, and every hostile request refused
// with the errno named and nothing changed: no token, a wrong one, unknown labels and
// faults, absurd numbers, text and oversized frames and floods on the console socket.
// SYS_KILL, which the chaos panel uses, refuses what the privilege table does not grant.
// Under a slowloris and streams that never read, from several loopback addresses, a new
// request and a new stream are still served and the process does not grow. The system is
// booted beside "another stack": the ports kernel-core and the dashboard want are taken.
import { readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MkError, Workload } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { sysKill } from "#libsys";
import {
  MAX_CONNECTIONS,
  MAX_CONSOLES_PER_ADDRESS,
  MAX_STREAMS,
  MAX_STREAMS_PER_ADDRESS,
  type State,
  type TimelineEntry,
} from "../../services/dashboard/src/index.ts";
import { bootTestSystem, dashboardBase, readyGeneration, runMkctl, type TestSystem } from "../helpers/system.ts";

const TOKEN = "test-token-0123456789abcdef";
let ts: TestSystem;
let base: string;
/** Listeners on the ports the system is told to use, as a compose stack beside it would be (7700, 8080). */
let taken: Server[] = [];
let kernelTaken = 0;
let dashboardTaken = 0;

const until = <T>(fn: () => Promise<T | undefined>, what: string, ms = 30_000) =>
  waitUntil(fn, { clock: systemClock, deadlineMs: ms, what });

async function state(): Promise<State> {
  return (await (await fetch(`${base}api/state`)).json()) as State;
}

/** The workload's figures in the state, once the dashboard has them (none just after the boot). */
const workloadNow = () => until(async () => (await state()).workload ?? undefined, "the workload in the state");

async function post(
  path: string,
  body: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; json: { ok?: boolean; note?: string; rate?: number; error?: { code: string; message: string } } }> {
  const r = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as never };
}

/** Every SSE event the stream sends within ms. */
async function streamEvents(ms: number): Promise<{ event: string; data: string }[]> {
  const ac = new AbortController();
  const r = await fetch(`${base}api/stream`, { signal: ac.signal });
  const out: { event: string; data: string }[] = [];
  let buf = "";
  const dec = new TextDecoder();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk);
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) out.push({ event, data });
      }
    }
  } catch {
    // aborted: the window is over
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Reads the stream until an event satisfies want (or ms pass); resolves with it. */
async function streamUntil(
  want: (e: { event: string; data: string }) => boolean,
  ms: number,
  started: () => Promise<void>,
): Promise<{ event: string; data: string }> {
  const ac = new AbortController();
  const r = await fetch(`${base}api/stream`, { signal: ac.signal });
  const timer = setTimeout(() => ac.abort(), ms);
  let buf = "";
  const dec = new TextDecoder();
  try {
    await started();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk);
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const e = { event: /^event: (.*)$/m.exec(block)?.[1] ?? "", data: /^data: (.*)$/m.exec(block)?.[1] ?? "" };
        if (want(e)) return e;
      }
    }
  } catch {
    // aborted
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  throw new Error(`no such event on the stream within ${ms} ms`);
}

/** A websocket to the console; resolves with how it closed (code) once it does, within ms. */
function consoleSocket(query: string): { ws: WebSocket; frames: (string | ArrayBuffer)[]; closed: Promise<number> } {
  const ws = new WebSocket(`${base.replace("http", "ws")}api/console${query}`);
  ws.binaryType = "arraybuffer";
  const frames: (string | ArrayBuffer)[] = [];
  ws.onmessage = (m) => frames.push(m.data as string | ArrayBuffer);
  const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
  return { ws, frames, closed };
}

const opened = (ws: WebSocket) =>
  new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = () => reject(new Error("websocket did not open")))));

beforeAll(async () => {
  taken = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  [kernelTaken, dashboardTaken] = taken.map((s) => (s.address() as AddressInfo).port);
  ts = await bootTestSystem({
    demo: ["dashboard", "workload"],
    kernelPort: kernelTaken,
    env: { MKOS_DASHBOARD_PORT: String(dashboardTaken), MK_DASHBOARD_TOKEN: TOKEN, MK_WORKLOAD_RATE: "20" },
    services: `
  killer:
    ipc: [ata]
    calls: [getinfo, kill]
  nokill:
    ipc: [ata]
    calls: [getinfo]
  pauser:
    ipc: [workload]
  pauser2:
    ipc: [workload]
`,
  });
  base = await dashboardBase(ts);
}, 90_000);

afterAll(async () => {
  await ts?.down();
  await Promise.all(taken.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("dashboard", () => {
  it("boot - beside another stack (the ports kernel-core and the dashboard want are taken) the system comes up on free ones and records which", async () => {
    expect(ts.sys.state.kernelPortWanted).toBe(kernelTaken);
    const kernelPort = Number(new URL(ts.sys.state.kernelHttp).port);
    expect(kernelPort).not.toBe(kernelTaken);
    expect(await (await fetch(`${ts.sys.state.kernelHttp}/readyz`)).json()).toMatchObject({ ready: true, pid: ts.sys.pidOf("kernel") });
    const d = JSON.parse(readFileSync(join(ts.sys.state.runDir, "dashboard.json"), "utf8")) as {
      wanted: number;
      port: number;
      pid: number;
    };
    expect(d).toMatchObject({ wanted: dashboardTaken, pid: ts.sys.pidOf("dashboard") });
    expect(d.port).not.toBe(dashboardTaken);
    expect(Number(new URL(base).port)).toBe(d.port);
  });

  it("dashboard - the state shows every service ready, the kernel up, live IPC edges and latency from the statistics", async () => {
    const s = await until(async () => {
      const st = await state();
      // The scheduler's rows come on their own timer (and a restarted driver's only at the next summary): waited for too.
      const ready = st.edges.some((e) => e.from === "workload" && e.to === "vfs" && e.msgs_per_s > 0) && st.latency.length > 0;
      return ready && st.sched?.some((r) => r.label === "ata") ? st : undefined;
    }, "the workload's messages to vfs and ata's scheduling row in the state");
    expect(s.kernel.up).toBe(true);
    for (const label of ["kernel-core", "ata", "tty", "mfs", "procfs", "vfs", "sched", "rs", "workload", "dashboard"]) {
      expect(s.nodes.find((n) => n.id === label)?.state, label).toBe("ready");
    }
    expect(s.nodes.find((n) => n.id === "ata")?.kind).toBe("driver");
    expect(s.edges.some((e) => e.from === "kernel-core" && e.to === "hardware")).toBe(true);
    expect(s.latency.every((r) => r.count > 0 && (r.p99_us ?? 0) >= (r.p50_us ?? 0))).toBe(true);
    await until(async () => ((await state()).workload?.rate === 20 ? true : undefined), "the boot's rate, 20/s, in the state");
  });

  it("dashboard - the latency panel: round trips by IPC path over the last minute, and a request picked in it followed hop by hop (the waterfall); bad picks are EINVAL, none without the token", async () => {
    // The workload reaches vfs by reply-direct (the shipped table), rs's heartbeats go by the trap.
    const paths = await until(async () => {
      const p = (await state()).paths;
      return p.some((r) => r.path === "reply-direct" && r.count > 0) && p.some((r) => r.path === "trap" && r.count > 0) ? p : undefined;
    }, "trap and reply-direct round trips in the state");
    for (const r of paths) expect(r.p99_us ?? 0, r.path).toBeGreaterThanOrEqual(r.p50_us ?? 0);
    const t = (await fetch(`${base}api/trace`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ what: "stat", target: "/", count: 3 }),
    }).then((r) => r.json())) as {
      runs: number;
      to: string;
      total_us: number;
      hops: { from: string; to: string; depth: number; us: number }[];
    };
    expect(t.runs).toBe(3);
    expect(t.to).toMatch(/^vfs#\d+$/);
    expect(t.hops.filter((h) => h.depth === 0).map((h) => `${h.from}>${h.to}`)).toEqual([
      "dashboard>kernel",
      "kernel>vfs",
      "vfs>kernel",
      "kernel>client",
    ]);
    // vfs's call to mfs, nested under the request: on reply-direct, mfs answers vfs itself.
    expect(t.hops.filter((h) => h.depth === 1).map((h) => `${h.from}>${h.to}`)).toEqual(["vfs>kernel", "kernel>mfs", "mfs>vfs"]);
    // The request's hops lie within its round trip (which also holds the caller's own work before its first stamp).
    const hopsUs = t.hops.reduce((a, h) => a + (h.depth === 0 ? h.us : 0), 0);
    expect(hopsUs).toBeLessThanOrEqual(t.total_us + 1);
    expect(hopsUs).toBeGreaterThan(t.total_us / 2);
    for (const body of [
      { what: "ping", target: "kernel" },
      { what: "ping", target: "nosuch" },
      { what: "stat", target: "relative/path" },
      { what: "open", target: "/" },
      { what: "stat", target: "/", count: 21 },
    ]) {
      const r = await post("api/trace", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error?.code, JSON.stringify(body)).toBe("EINVAL");
    }
    expect((await post("api/trace", { what: "ping", target: "ata" }, null)).status).toBe(401);
    expect((await post("api/trace", { what: "stat", target: "/nosuch" })).json.error?.code).toBe("ENOENT");
  });

  it("dashboard - the stream sends the state and the history at once, then a state every second", async () => {
    const events = await streamEvents(2500);
    expect(events[0].event).toBe("state");
    expect(events[1].event).toBe("history");
    expect(events.filter((e) => e.event === "state").length).toBeGreaterThanOrEqual(2);
  });

  it("dashboard - a change without the token, or with a wrong one, is EACCES and changes nothing", async () => {
    const before = await readyGeneration(await ts.client(), "ata");
    const { rate } = await workloadNow();
    expect(await post("api/chaos", { target: "ata", fault: "kill" }, null)).toMatchObject({
      status: 401,
      json: { error: { code: "EACCES" } },
    });
    expect(await post("api/chaos", { target: "ata", fault: "kill" }, "not-the-token-at-all-000")).toMatchObject({
      status: 401,
      json: { error: { code: "EACCES" } },
    });
    expect(await post("api/workload", { rate: 0 }, null)).toMatchObject({ status: 401 });
    expect(await readyGeneration(await ts.client(), "ata")).toBe(before);
    expect((await state()).workload?.rate).toBe(rate);
  });

  it("dashboard - malformed chaos, hardware and workload requests are EINVAL naming what was wrong", async () => {
    for (const body of [
      { target: "nosuch", fault: "kill" },
      { target: "kernel", fault: "kill" },
      { target: "ata", fault: "explode" },
      { target: "ata", fault: "slow", ms: 10 ** 9 },
      { target: "ata", fault: "slow", ms: 0 },
      { fault: "kill" },
      "not json",
      [1, 2, 3],
    ]) {
      const r = await post("api/chaos", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error?.code, JSON.stringify(body)).toBe("EINVAL");
    }
    expect((await post("api/chaos", { target: "nosuch", fault: "kill" })).json.error).toMatchObject({
      code: "EINVAL",
      detail: { arg: "target" },
    });
    expect((await post("api/hwfault", { fault: "melt" })).json.error?.code).toBe("EINVAL");
    expect((await post("api/workload", { rate: 500 })).json.error?.code).toBe("EINVAL");
    expect((await post("api/workload", { rate: -1 })).json.error?.code).toBe("EINVAL");
    const big = await post("api/chaos", JSON.stringify({ target: "ata", fault: "kill", pad: "x".repeat(40_000) }));
    expect(big.status).toBe(413);
  });

  it("dashboard - kill from the chaos panel: ata dies, the next generation serves, the timeline says how long it took, and the workload loses nothing", async () => {
    const client = await ts.client();
    const before = await readyGeneration(client, "ata");
    const r = await post("api/chaos", { target: "ata", fault: "kill" });
    expect(r).toMatchObject({ status: 200, json: { ok: true } });
    const history = await until(async () => {
      const h = (await streamEvents(1200)).find((e) => e.event === "history");
      const entries = h ? (JSON.parse(h.data) as TimelineEntry[]) : [];
      return entries.some((e) => e.kind === "recovered" && e.label === "ata" && (e.generation ?? 0) > before) ? entries : undefined;
    }, "ata's recovery on the timeline");
    expect(history.some((e) => e.kind === "fault" && e.label === "ata")).toBe(true);
    expect(history.some((e) => e.kind === "dead" && e.label === "ata" && e.generation === before)).toBe(true);
    const healed = history.find((e) => e.kind === "recovered" && e.label === "ata")!;
    expect(healed.mttr_ms).toBeGreaterThan(0);
    const s = await state();
    const ata = s.nodes.find((n) => n.id === "ata")!;
    expect(ata.generation).toBeGreaterThan(before);
    expect(ata.restarts).toBeGreaterThanOrEqual(1);
    const { ops } = await workloadNow();
    await until(
      async () => (((await state()).workload?.ops ?? 0) > ops + 20 ? true : undefined),
      "20 more workload operations after the kill",
    );
    expect((await state()).workload?.failed).toBe(0);
  });

  it("dashboard - the workload's rate: 0 sends nothing, and it goes on when set again; mkctl workload says the same", async () => {
    try {
      await rateZeroThenThirty();
    } finally {
      // The boot's rate again, for whatever test comes next (a failure above stays the one reported).
      await post("api/workload", { rate: 20 });
    }
  });

  const rateZeroThenThirty = async () => {
    expect(await post("api/workload", { rate: 0 })).toMatchObject({ status: 200, json: { rate: 0 } });
    await until(async () => ((await state()).workload?.rate === 0 ? true : undefined), "the rate 0 in the state");
    const a = (await workloadNow()).ops;
    await until(
      async () => (((await state()).edges.find((e) => e.from === "workload" && e.to === "vfs")?.msgs_per_s ?? 0) === 0 ? true : undefined),
      "no workload message in the last second",
    );
    expect((await workloadNow()).ops - a).toBeLessThanOrEqual(1);
    const m = runMkctl(ts, "workload", "rate", "30");
    expect(m.status, m.stderr).toBe(0);
    await until(async () => (((await state()).workload?.ops ?? 0) > a + 10 ? true : undefined), "the workload going on at 30/s");
    const j = runMkctl(ts, "workload", "--json");
    expect(JSON.parse(j.stdout)).toMatchObject({ rate: 30, failed: 0 });
    expect(runMkctl(ts, "workload", "rate", "999").status).toBe(64);
    const neg = runMkctl(ts, "workload", "rate", "-3");
    expect(neg.status).toBe(64);
    expect(neg.stderr.trim()).toMatch(/^mkctl: .*rate needs N, 0-200 operations per second, got "-3"$/);
  };

  it("dashboard - a request under another host name (DNS rebinding) or from another site's page is EACCES", async () => {
    const url = new URL(base);
    const ask = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, path: "/api/state", headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await ask({})).toBe(200);
    expect(await ask({ host: `evil.example:${url.port}` })).toBe(401);
    expect(await ask({ origin: "http://evil.example" })).toBe(401);
    expect(await ask({ origin: `http://localhost:${url.port}` })).toBe(200);
  });

  it("dashboard - the console socket: read-only without the token (one EACCES, then closed), closed for text frames, oversized frames and floods", async () => {
    const ro = consoleSocket("");
    await opened(ro.ws);
    ro.ws.send(new TextEncoder().encode("help\n"));
    expect(await ro.closed).toBe(1008);
    expect(ro.frames.some((f) => typeof f === "string" && f.includes("EACCES"))).toBe(true);

    const text = consoleSocket(`?token=${TOKEN}`);
    await opened(text.ws);
    text.ws.send("help\n");
    expect(await text.closed).toBe(1003);

    const big = consoleSocket(`?token=${TOKEN}`);
    await opened(big.ws);
    big.ws.send(new Uint8Array(5000));
    expect(await big.closed).toBe(1009);

    const flood = consoleSocket(`?token=${TOKEN}`);
    await opened(flood.ws);
    for (let i = 0; i < 20; i++) flood.ws.send(new Uint8Array(4096).fill(0x20));
    expect(await flood.closed).toBe(1008);
    // The dashboard is still there.
    expect((await fetch(`${base}api/meta`)).status).toBe(200);

    // Read-only consoles fill every place this address has: the operator's (with the token)
    // still gets one, in place of the oldest read-only one.
    const watchers = Array.from({ length: MAX_CONSOLES_PER_ADDRESS }, () => consoleSocket(""));
    for (const w of watchers) await opened(w.ws);
    const operator = consoleSocket(`?token=${TOKEN}`);
    await opened(operator.ws);
    expect(await watchers[0].closed).toBe(1006);
    await until(
      async () => (operator.frames.some((f) => typeof f === "string" && f.includes("typing reaches")) ? true : undefined),
      "the operator's console attached",
    );
    expect(operator.ws.readyState).toBe(WebSocket.OPEN);
    operator.ws.close();
    for (const w of watchers.slice(1)) w.ws.close();
  });

  it("dashboard - 2,000 slow connections and 64 streams that never read, from 16 loopback addresses: the idle ones are ended, a page's kept-alive connection is not, a new request answers 200 at once, a new stream gets events, and RSS grows by under 32 MB", async () => {
    const SLOW = 2000;
    const RSS_GROWTH_MAX = 32 * 2 ** 20;
    const url = new URL(base);
    const pid = ts.sys.pidOf("dashboard")!;
    const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;
    const before = rss();
    const sockets: Socket[] = [];
    let slowClosed = 0;
    /** A raw connection from localAddress that sends `request`; `sent` resolves once it is written or the server closed it. */
    const open = (localAddress: string, request: string): { socket: Socket; sent: Promise<void> } => {
      const socket = connect({ host: url.hostname, port: Number(url.port), localAddress });
      sockets.push(socket);
      socket.on("error", () => undefined);
      const sent = new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.once("connect", () => socket.write(request, () => resolve()));
      });
      return { socket, sent };
    };
    /** GET /api/state through agent (false: a new connection): its status, and whether a kept-alive connection carried it. */
    const getState = (agent: Agent | false) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, path: "/api/state", agent, timeout: 5000 }, (res) => {
          res.resume();
          res.once("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
        req.on("error", reject);
        req.end();
      });
    // A page's connection, kept alive between its requests (one every batch below).
    const page = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await getState(page)).toEqual({ status: 200, reused: false });
      // A partial request line, never finished, in batches (the listen queue holds 511).
      for (let i = 0; i < SLOW; i += 250) {
        await Promise.all(
          Array.from({ length: Math.min(250, SLOW - i) }, (_, k) => {
            const { socket, sent } = open(`127.0.0.${1 + ((i + k) % 16)}`, "GET /api/state HTTP/1.1\r\n");
            socket.once("close", () => slowClosed++);
            return sent;
          }),
        );
        expect(await getState(page)).toEqual({ status: 200, reused: true });
      }
      await until(
        async () => (SLOW - slowClosed <= MAX_CONNECTIONS ? true : undefined),
        `at most ${MAX_CONNECTIONS} of the slow connections left open`,
      );
      // Every stream place taken, per address and in all, by clients that read only the status line.
      const addresses = MAX_STREAMS / MAX_STREAMS_PER_ADDRESS;
      const streams = await Promise.all(
        Array.from(
          { length: MAX_STREAMS },
          (_, i) =>
            new Promise<string>((resolve) => {
              const { socket } = open(`127.0.0.${100 + (i % addresses)}`, `GET /api/stream HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
              socket.once("close", () => resolve("closed"));
              socket.once("data", (d: Buffer) => {
                socket.pause(); // and never reads again
                resolve(d.toString("latin1").split("\r\n")[0]);
              });
            }),
        ),
      );
      expect(streams.every((line) => line === "HTTP/1.1 200 OK")).toBe(true);

      const started = performance.now();
      expect((await getState(false)).status).toBe(200);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(
        (
          await streamUntil(
            (e) => e.event === "state",
            5000,
            async () => undefined,
          )
        ).data,
      ).toContain('"nodes"');
      expect(rss() - before).toBeLessThan(RSS_GROWTH_MAX);
    } finally {
      page.destroy();
      for (const s of sockets) s.destroy();
    }
  });

  it("dashboard - a shipped experiment from the page: only those written for a running system are offered; the demo runs, the journal arrives on the stream with nothing lost; EBUSY while it runs, ENOENT for an unknown one", async () => {
    const meta = (await (await fetch(`${base}api/meta`)).json()) as { experiments: { name: string }[] };
    const names = meta.experiments.map((e) => e.name);
    expect(names).toContain("demo");
    expect(names).not.toContain("ata-kill-storm"); // its restart policies need a system booted for it
    expect(await post("api/experiments/nosuch", {})).toMatchObject({ status: 404, json: { error: { code: "ENOENT" } } });
    expect(await post("api/experiments/demo", {}, null)).toMatchObject({ status: 401 });
    const demoStats = () => JSON.parse(runMkctl(ts, "workload", "--json").stdout) as { rate: number; paused_ms: number; ops: number };
    // The workload's own word (the state's copy is polled, and may still show a rate an earlier test just changed).
    const { rate } = demoStats();
    const done = await streamUntil(
      (e) => e.event === "experiment" && !e.data.includes('"running"'),
      120_000,
      async () => {
        expect(await post("api/experiments/demo", {})).toMatchObject({ status: 202 });
        expect(await post("api/experiments/demo", {})).toMatchObject({ status: 409, json: { error: { code: "EBUSY" } } });
        // The runner pauses the demo workload for the run (its fsck probe needs no file open).
        await until(async () => (demoStats().paused_ms > 0 ? true : undefined), "the demo workload paused");
      },
    );
    const journal = JSON.parse(done.data) as {
      name: string;
      status: string;
      report: { faults_injected: number; recoveries: number; ops_attempted: number; ops_failed: number; bytes_wrong: number };
      summary: [string, string][];
    };
    expect(journal.name).toBe("demo");
    expect(journal.report.faults_injected).toBe(6);
    expect(journal.report.recoveries).toBeGreaterThanOrEqual(3);
    expect(journal.report.ops_attempted).toBeGreaterThan(0);
    expect(journal.report.ops_failed).toBe(0);
    expect(journal.report.bytes_wrong).toBe(0);
    expect(journal.status, JSON.stringify(journal.summary)).toBe("completed");
    // The demo workload goes on at its rate afterwards, its pause ended with the run.
    await until(async () => ((await state()).workload?.rate === rate ? true : undefined), "the workload's rate restored");
    const after = demoStats();
    expect(after.paused_ms).toBe(0);
    await until(async () => (demoStats().ops > after.ops + 3 ? true : undefined), "the demo workload working again");
  });

  it("workload - WORKLOAD_PAUSE holds while any pauser's pause does: one pauser's end leaves another's in force; the workload goes on when the last ends", async () => {
    const a = await ts.client("pauser");
    const b = await ts.client("pauser2");
    const stats = async () => (await a.sys.sendrec("workload", Workload.WORKLOAD_STATS, {})).args;
    const pause = (c: typeof a, ms: number) => c.sys.sendrec("workload", Workload.WORKLOAD_PAUSE, { ms }, undefined, 30_000);
    try {
      await pause(a, 60_000);
      await pause(b, 20_000);
      const held = await stats();
      expect(held.paused_ms).toBeGreaterThan(50_000); // the latest deadline
      await pause(b, 0); // b's end: a's pause holds
      expect((await stats()).paused_ms).toBeGreaterThan(50_000);
      await expect(pause(a, 600_001)).rejects.toMatchObject({ errno: "EBADREQUEST" }); // past WORKLOAD_MAX_PAUSE_MS
      expect((await stats()).ops).toBe(held.ops); // nothing ran meanwhile
      await pause(a, 0);
      expect((await stats()).paused_ms).toBe(0);
      await until(async () => ((await stats()).ops > held.ops + 3 ? true : undefined), "the workload going on");
    } finally {
      await pause(a, 0).catch(() => undefined);
      await a.stop();
      await b.stop();
    }
  });

  it("dashboard - SYS_KILL refuses kernel-core, labels outside the caller's ipc and callers without the grant", async () => {
    const killer = await ts.client("killer");
    const nokill = await ts.client("nokill");
    const errno = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: MkError) => e.errno,
      );
    expect(await errno(sysKill(killer.sys, "kernel", "KILL"))).toBe("EPERM");
    expect(await errno(sysKill(killer.sys, "vfs", "KILL"))).toBe("ECALLDENIED");
    expect(await errno(sysKill(killer.sys, "nosuch", "KILL"))).toBe("EBADSRCDST");
    expect(await errno(sysKill(nokill.sys, "ata", "KILL"))).toBe("ECALLDENIED");
    const gen = await readyGeneration(killer, "ata");
    const { pid } = await sysKill(killer.sys, "ata", "KILL");
    expect(pid).toBeGreaterThan(1);
    await until(async () => ((await readyGeneration(killer, "ata")) > gen ? true : undefined), "the next ata after SYS_KILL");
  });
});
