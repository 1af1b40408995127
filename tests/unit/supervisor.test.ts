// rs's supervisor logic on a manual clock: crash detection, backoff, intensity, heartbeat
// hangs, stops by hand, the kernel's dead events, a command that cannot start. The
// backend here is an in-memory stand-in for the OS (tests/system/process-backend.test.ts
// and tests/system/rs.test.ts run the real one); time never sleeps.
import { beforeEach, describe, expect, it } from "vitest";
import { MkError, type KernelEvent } from "#abi";
import { createLogger, ManualClock } from "#libsys";
import { Supervisor, type Backend, type ExitInfo, type RunSpec, type SupervisedService } from "../../services/rs/src/index.ts";

const log = createLogger("test");
log.level = "silent";

/** Processes as a table: started, signalled, exiting when the test says so. */
class MemoryBackend implements Backend {
  procs = new Map<string, { pid: number; alive: boolean }>();
  started: string[] = [];
  signals: string[] = [];
  failing = new Set<string>();
  private next = 100;
  private listeners: ((e: ExitInfo) => void)[] = [];
  async start(spec: RunSpec): Promise<number> {
    if (this.failing.has(spec.name)) throw new Error(`${spec.name}: cannot run ${spec.command[0]}: ENOENT`);
    const old = this.procs.get(spec.name);
    if (old?.alive) this.exit(spec.name, "SIGTERM");
    const pid = this.next++;
    this.procs.set(spec.name, { pid, alive: true });
    this.started.push(`${spec.name}:${pid}`);
    return pid;
  }
  async stop(name: string): Promise<void> {
    if (this.procs.get(name)?.alive) this.exit(name, "SIGTERM");
  }
  async stopAll(groups: string[][]): Promise<void> {
    for (const g of groups) for (const n of g) await this.stop(n);
  }
  signal(name: string, signal: NodeJS.Signals): number {
    this.signals.push(`${name}:${signal}`);
    const p = this.procs.get(name)!;
    if (signal === "SIGKILL") this.exit(name, "SIGKILL");
    return p.pid;
  }
  pid(name: string) {
    const p = this.procs.get(name);
    return p?.alive ? p.pid : undefined;
  }
  alive(name: string) {
    return !!this.procs.get(name)?.alive;
  }
  list() {
    return [...this.procs].map(([name, p]) => ({ name, pid: p.pid, alive: p.alive }));
  }
  watches(name: string) {
    return this.alive(name);
  }
  matches(name: string, ev: { pid: number }) {
    return this.procs.get(name)?.pid === ev.pid;
  }
  promote(from: string, to: string) {
    const p = this.procs.get(from);
    if (!p?.alive) return undefined;
    this.procs.delete(from);
    this.procs.set(to, p);
    this.started.push(`${to}:${p.pid} (standby)`);
    return p.pid;
  }
  onExit(fn: (e: ExitInfo) => void) {
    this.listeners.push(fn);
  }
  /** The process ends (a crash when the test calls it directly). */
  exit(name: string, signal: NodeJS.Signals | null, code: number | null = null) {
    const p = this.procs.get(name)!;
    p.alive = false;
    for (const fn of this.listeners) fn({ name, pid: p.pid, code, signal });
  }
}

const flush = () => new Promise((r) => setImmediate(r));
let clock: ManualClock;
let backend: MemoryBackend;
let sup: Supervisor;
/** Labels whose pings are never answered (a hang), and whether the bus is away (ENOTREADY). */
let hung: Set<string>;
let outage: boolean;
let pinged: string[];
/** Labels whose pings fail ETIMEDOUT at their deadline (the kernel's answer for a service that does not answer). */
let failing: Set<string>;
/**
 * Answers that reached rs's socket and are not read yet (rs stopped): the test delivers
 * them after the overdue timers, as Node reads sockets only after its timers phase. Each
 * ping still has its own deadline (ETIMEDOUT), as the transport's does.
 */
let socket: (() => void)[] | undefined;
/** A congested kernel (a flood of traps): every ping fails at its deadline, and probes wait in kernelQueue until it catches up. */
let kernelSlow: boolean;
/** Only the kernel's null calls are slow (a flood the fair admission keeps away from the pings). */
let probesSlow: boolean;
let kernelQueue: (() => void)[];
let probes: number;
let seq = 0;

const policy = { heartbeatMs: 1000, backoffMinMs: 100, backoffMaxMs: 1000, intensity: { restarts: 3, seconds: 10 } };
const service = (label: string, heartbeat = true): SupervisedService => ({
  label,
  heartbeat,
  policy,
  spec: { name: label, command: ["node", `${label}.ts`], env: {}, cwd: "/", logFile: "/dev/null" },
});

/** What the kernel would publish for the process rs started. */
function event(kind: KernelEvent["kind"], label: string, extra: Partial<KernelEvent> = {}): KernelEvent {
  const pid = backend.pid(label) ?? backend.procs.get(label)!.pid;
  return {
    kind,
    label,
    pid,
    generation: backend.started.filter((s) => s.startsWith(`${label}:`)).length,
    boot: "b",
    seq: ++seq,
    ts: 0,
    at: "",
    endpoint: "",
    placement: "user",
    host: "h",
    ...extra,
  };
}
/** The started process finishes its init: started and ready, as the kernel reports them. */
function serves(label: string): void {
  sup.onEvent(event("started", label));
  sup.onEvent(event("ready", label));
}
async function advance(ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flush();
  }
}
const row = (label: string) => sup.list().find((s) => s.label === label)!;

beforeEach(async () => {
  clock = new ManualClock();
  backend = new MemoryBackend();
  hung = new Set();
  outage = false;
  pinged = [];
  failing = new Set();
  socket = undefined;
  kernelSlow = false;
  probesSlow = false;
  kernelQueue = [];
  probes = 0;
  const ping = (label: string, timeoutMs: number) => {
    pinged.push(label);
    if (outage) return Promise.reject(new MkError("ENOTREADY", "the NATS connection is lost"));
    if (hung.has(label)) return new Promise<void>(() => undefined);
    if (!socket && !kernelSlow && !failing.has(label)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const deadline = clock.setTimeout(
        () => reject(new MkError("ETIMEDOUT", `${label} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (socket && !kernelSlow && !failing.has(label)) socket.push(() => (deadline.cancel(), resolve()));
    });
  };
  const probe = () => {
    probes++;
    return kernelSlow || probesSlow ? new Promise<void>((resolve) => kernelQueue.push(resolve)) : Promise.resolve();
  };
  sup = new Supervisor({ backend, clock, log, services: [service("ata"), service("tty")], ping, probe });
  await sup.startAll();
  serves("ata");
  serves("tty");
});

describe("rs supervisor", () => {
  it("rs - a crash is restarted after backoff_min_ms, doubling up to backoff_max_ms; time to serve again is measured", async () => {
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = backend.started.length;
      backend.exit("ata", "SIGKILL");
      expect(row("ata")).toMatchObject({ state: "backoff", last_cause: "signal SIGKILL" });
      const t0 = clock.now();
      while (backend.started.length === before) await advance(10, 10);
      delays.push(clock.now() - t0);
      await advance(30, 10);
      serves("ata");
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(row("ata")).toMatchObject({ state: "running", restarts: 3, detect_ms: 0, recover_ms: 430 }); // the backoff counts: detection to serving
    // Served for a whole intensity window: the next crash waits backoff_min_ms again.
    await advance(10_000, 1000);
    const before = backend.started.length;
    backend.exit("ata", null, 1);
    await advance(100, 10);
    expect(backend.started.length).toBe(before + 1);
    expect(row("ata").last_cause).toBe("exit 1");
  });

  it("rs - at boot, an incarnation whose ready event came before rs looked for it is serving once rs sees it ready in the table, not left to its start timeout", async () => {
    const s2 = new Supervisor({ backend, clock, log, services: [service("vfs")], ping: () => Promise.resolve() });
    await s2.startAll();
    const pid = backend.pid("vfs")!;
    expect(s2.list()[0].state).toBe("starting"); // its ready event is gone: nobody was listening
    const before = backend.started.length;
    s2.caughtUp([{ label: "vfs", pid: pid + 1000, host: "h", generation: 1 }]); // another process's row: not this one
    expect(s2.list()[0].state).toBe("starting");
    s2.caughtUp([{ label: "vfs", pid, host: "h", generation: 1 }]);
    expect(s2.list()[0]).toMatchObject({ state: "running", generation: 1 });
    await advance(60_000, 1000); // past any start timeout
    expect(backend.started.length).toBe(before); // never restarted
  });

  it("rs - past its intensity (3 restarts in 10 s) a service is failed and left alone until started by hand", async () => {
    for (let i = 0; i < 3; i++) {
      backend.exit("ata", "SIGKILL");
      await advance(1000, 50);
      serves("ata");
    }
    backend.exit("ata", "SIGSEGV");
    await advance(5000, 100);
    expect(row("ata")).toMatchObject({ state: "failed", restarts: 3, last_cause: "signal SIGSEGV" });
    expect(backend.alive("ata")).toBe(false);
    expect(row("tty").state).toBe("running"); // the rest is untouched
    const pid = await sup.up("ata");
    expect(backend.pid("ata")).toBe(pid);
    expect(row("ata").state).toBe("starting");
  });

  it("rs - a service that stops answering pings is a hang after two periods: killed, restarted, detect_ms about 2 heartbeats", async () => {
    // tty answers every ping; ata answers none (a blocked event loop, SIGSTOP).
    hung.add("ata");
    await advance(1750, 250);
    expect(backend.signals).toEqual([]); // one period unanswered is not yet a hang
    await advance(500, 250);
    expect(backend.signals).toEqual(["ata:SIGKILL"]);
    expect(row("ata")).toMatchObject({ restarts: 1, last_cause: expect.stringMatching(/^heartbeat \(no answer for 2\d\d\d ms\)/) });
    hung.clear();
    await advance(100, 50);
    serves("ata");
    expect(row("ata").detect_ms).toBeGreaterThanOrEqual(2000);
    expect(row("ata").detect_ms).toBeLessThanOrEqual(2250);
    expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
  });

  it.each([
    ["right after a round of pings", 0],
    ["760 ms after a round of pings still unanswered (their deadline falls due before the next tick)", 760],
  ])(
    "rs - rs stalled for 3 s (SIGSTOP, then SIGCONT) %s kills nothing: what was outstanding during the stall is no evidence",
    async (_what, outFor) => {
      await advance(3000, 250); // healthy: every ping answered
      const before = pinged.length;
      socket = []; // from now on answers wait in the socket until rs reads them
      while (pinged.length < before + 2) await advance(10, 10); // a round of pings goes out
      await advance(outFor, 10); // the services are slow to answer this time
      clock.jump(3000); // SIGSTOP for 3 s: the answers reach the socket; no timer of rs's runs
      // SIGCONT: Node runs every overdue timer first (microtasks between), then reads the socket.
      while (clock.step()) await flush();
      for (const answer of socket.splice(0)) answer();
      socket = undefined;
      await advance(5000, 250);
      expect(backend.signals).toEqual([]);
      expect(row("ata")).toMatchObject({ state: "running", restarts: 0 });
      expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
      expect(row("ata").misses_excused).toBeGreaterThanOrEqual(1); // the ping outstanding during the stall, counted as excused
    },
  );

  it("rs - a kernel that answers nothing for 2.5 s (a flood of traps) while every ping fails ETIMEDOUT kills nothing; a real hang with the kernel answering is still found within two periods", async () => {
    await advance(2000, 250);
    kernelSlow = true;
    await advance(2500, 50);
    kernelSlow = false; // the kernel catches up: the probes waiting in it are answered, late
    for (const answer of kernelQueue.splice(0)) answer();
    await advance(3000, 250);
    expect(backend.signals).toEqual([]);
    expect(backend.started).toEqual(["ata:100", "tty:101"]); // nothing restarted
    expect(row("ata")).toMatchObject({ state: "running", restarts: 0 });
    expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
    expect(row("ata").misses_excused).toBeGreaterThanOrEqual(2);
    expect(probes).toBeGreaterThan(0);
    // The same service's real hang: its pings fail while the kernel answers every probe at once.
    failing.add("ata");
    await advance(1750, 250);
    expect(backend.signals).toEqual([]);
    await advance(500, 250);
    expect(backend.signals).toEqual(["ata:SIGKILL"]);
    expect(row("ata").last_cause).toMatch(/^heartbeat/);
    failing.clear();
    await advance(100, 50);
    serves("ata");
    expect(row("ata").detect_ms).toBeLessThanOrEqual(2250);
    expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
  });

  it("rs - a real hang during a long flood (the kernel slow throughout) is found: its neighbours answering through the same kernel make the silence its own", async () => {
    await advance(2000, 250);
    probesSlow = true; // the kernel's null calls wait in it for the whole flood
    hung.add("ata"); // tty goes on answering its pings through the same kernel
    await advance(3000, 250);
    expect(backend.signals).toEqual(["ata:SIGKILL"]);
    expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
    probesSlow = false;
    for (const answer of kernelQueue.splice(0)) answer();
  });

  it("rs - a slow kernel excuses a silence for ten periods at most: a service silent longer is hung, however slow the kernel", async () => {
    await advance(2000, 250);
    kernelSlow = true;
    failing.add("ata");
    failing.add("tty"); // everyone silent: the path itself is slow
    await advance(8000, 250);
    expect(backend.signals).toEqual([]);
    await advance(4000, 250);
    expect(backend.signals.sort()).toEqual(["ata:SIGKILL", "tty:SIGKILL"]);
    kernelSlow = false;
    for (const answer of kernelQueue.splice(0)) answer();
    failing.clear();
  });

  it("rs - several services hung at once while the kernel answers its probe promptly are each killed within two periods of their last answer", async () => {
    const s = new Supervisor({
      backend,
      clock,
      log,
      services: ["mfs", "vfs", "procfs"].map((l) => service(l)),
      ping: sup["o"].ping,
      probe: sup["o"].probe,
    });
    await s.startAll();
    for (const l of ["mfs", "vfs", "procfs"]) {
      s.onEvent(event("started", l));
      s.onEvent(event("ready", l));
    }
    await advance(3000, 250);
    hung.add("mfs");
    hung.add("vfs");
    await advance(2250, 250);
    expect(backend.signals.filter((x) => !x.startsWith("ata") && !x.startsWith("tty"))).toEqual(["mfs:SIGKILL", "vfs:SIGKILL"]);
    const byLabel = (l: string) => s.list().find((x) => x.label === l)!;
    expect(byLabel("procfs")).toMatchObject({ state: "running", restarts: 0 });
    hung.clear();
    await advance(100, 50);
    for (const l of ["mfs", "vfs"]) {
      s.onEvent(event("started", l));
      s.onEvent(event("ready", l));
      expect(byLabel(l).detect_ms).toBeLessThanOrEqual(2250);
    }
    await s.shutdown(false);
  });

  it("rs - pings that fail because the bus or the kernel is away (ENOTREADY) are not a hang", async () => {
    outage = true;
    await advance(10_000, 250);
    expect(pinged.filter((l) => l === "ata").length).toBeGreaterThanOrEqual(9); // it kept asking
    expect(backend.signals).toEqual([]);
    expect(row("ata")).toMatchObject({ state: "running", restarts: 0 });
  });

  it("rs - a stop by hand is not a crash: nothing is restarted; start by hand brings it back", async () => {
    await sup.down("tty");
    await advance(5000, 500);
    expect(row("tty")).toMatchObject({ state: "stopped", restarts: 0 });
    expect(backend.alive("tty")).toBe(false);
    await sup.up("tty");
    serves("tty");
    expect(row("tty")).toMatchObject({ state: "running", restarts: 0 });
  });

  it("rs - the kernel says an incarnation died while its process runs on: rs kills it and starts another; stale events change nothing", async () => {
    const oldPid = backend.pid("ata")!;
    sup.onEvent(event("dead", "ata", { cause: "disconnect", detail: "Client Closed" }));
    expect(backend.signals).toEqual([]); // its own exit may yet come, saying more
    await advance(250, 50);
    expect(backend.signals).toEqual(["ata:SIGKILL"]);
    await advance(100, 50);
    expect(backend.pid("ata")).not.toBe(oldPid);
    serves("ata");
    expect(row("ata")).toMatchObject({ state: "running", restarts: 1, last_cause: "disconnect (Client Closed)" });
    // An event about the old process (a late one) is ignored.
    sup.onEvent({ ...event("dead", "ata", { cause: "no-subscriber" }), pid: oldPid });
    expect(row("ata").restarts).toBe(1);
  });

  it("rs - a command that cannot run is failed with its reason; the others run on", async () => {
    const b = new MemoryBackend();
    b.failing.add("ata");
    const s = new Supervisor({ backend: b, clock, log, services: [service("ata"), service("tty")], ping: async () => undefined });
    await s.startAll();
    expect(s.list()).toMatchObject([
      { label: "ata", state: "failed", last_cause: expect.stringMatching(/^cannot start: ata: cannot run node: ENOENT/) },
      { label: "tty", state: "starting" },
    ]);
    await expect(s.up("nope")).rejects.toMatchObject({ errno: "ENOENT", detail: { label: "nope" } });
  });

  it("rs - concurrent starts and restarts of one service run one at a time: never two processes", async () => {
    await sup.down("tty");
    const before = backend.started.length;
    const pids = await Promise.all([sup.up("tty"), sup.up("tty"), sup.up("tty")]);
    expect(new Set(pids).size).toBe(1);
    expect(backend.started.length).toBe(before + 1);
    serves("tty");
    await Promise.all([sup.restart("tty"), sup.restart("tty")]);
    expect([...backend.procs.values()].filter((p) => p.alive).length).toBe(2); // ata and one tty
  });

  it("rs - a heartbeat answered EDEADSRCDST (no live incarnation at the kernel) is a miss: the service is replaced", async () => {
    outage = false;
    hung.clear();
    const ping = sup["o"].ping;
    sup["o"].ping = (label: string, ms: number) =>
      label === "ata" ? Promise.reject(new MkError("EDEADSRCDST", "ata has no incarnation")) : ping(label, ms);
    await advance(2250, 250);
    expect(backend.signals).toEqual(["ata:SIGKILL"]);
  });

  it("rs - a service that never becomes ready is killed and restarted at its start deadline", async () => {
    backend.exit("tty", "SIGKILL");
    await advance(100, 50); // started again, never ready
    expect(row("tty").state).toBe("starting");
    await advance(10_000, 500);
    expect(backend.signals).toEqual(["tty:SIGKILL"]);
    expect(row("tty").last_cause).toMatch(/^start timeout/);
  });

  it("rs - stopped by hand and failed are remembered across rs's restarts", async () => {
    const saved: Record<string, string> = {};
    const intent = {
      load: () => ({ ...saved }),
      save: (x: Record<string, string>) => void Object.assign(Object.keys(saved).forEach((k) => delete saved[k]) ?? saved, x),
    };
    const b = new MemoryBackend();
    const s1 = new Supervisor({ backend: b, clock, log, services: [service("ata"), service("tty")], ping: async () => undefined, intent });
    await s1.startAll();
    await s1.down("tty");
    expect(saved).toEqual({ tty: "stopped" });
    const s2 = new Supervisor({
      backend: new MemoryBackend(),
      clock,
      log,
      services: [service("ata"), service("tty")],
      ping: async () => undefined,
      intent,
    });
    await s2.startAll();
    expect(s2.list()).toMatchObject([
      { label: "ata", state: "starting" },
      { label: "tty", state: "stopped" },
    ]);
    await s2.up("tty");
    expect(saved).toEqual({});
  });

  it("rs - with a warm standby, the first crash after a healthy spell is a hand-over at once; a crash loop backs off as before", async () => {
    const b = new MemoryBackend();
    const svc = { ...service("ata"), standby: { ...service("ata").spec, name: "ata.standby" } };
    const signalled: number[] = [];
    const kill = process.kill;
    (process as { kill: unknown }).kill = (pid: number, sig: string) =>
      sig === "SIGUSR1" ? void signalled.push(pid) : kill(pid, sig as NodeJS.Signals);
    try {
      const s = new Supervisor({ backend: b, clock, log, services: [svc], ping: async () => undefined });
      await s.startAll();
      const ev = (kind: KernelEvent["kind"], gen: number) =>
        s.onEvent({ ...event("ready", "ata"), kind, pid: b.pid("ata")!, generation: gen });
      ev("started", 1);
      ev("ready", 1);
      await flush();
      expect(b.alive("ata.standby")).toBe(true);
      const standbyPid = b.pid("ata.standby")!;
      await advance(10_000, 1000); // a healthy spell: a whole intensity window
      b.exit("ata", "SIGKILL");
      expect(signalled).toEqual([standbyPid]); // no backoff, no new process: the standby takes over
      expect(s.list()[0]).toMatchObject({ state: "starting", pid: standbyPid, restarts: 1 });
      ev("started", 2);
      ev("ready", 2);
      await flush();
      expect(b.alive("ata.standby")).toBe(true); // a new standby for the next time
      b.exit("ata", "SIGKILL"); // at once again: a crash loop, not a healthy spell
      expect(signalled).toHaveLength(1);
      expect(s.list()[0].state).toBe("backoff");
    } finally {
      (process as { kill: unknown }).kill = kill;
    }
  });

  it("rs - a restarted rs adopts services still serving (same pid) and starts only the rest", async () => {
    const b = new MemoryBackend();
    await b.start(service("ata").spec); // left running by the previous rs
    const s = new Supervisor({ backend: b, clock, log, services: [service("ata"), service("tty")], ping: async () => undefined });
    await s.startAll([{ label: "ata", pid: b.pid("ata")!, host: "h", generation: 4 }]);
    expect(s.list()).toMatchObject([
      { label: "ata", state: "running", generation: 4 },
      { label: "tty", state: "starting" },
    ]);
    expect(b.started).toEqual(["ata:100", "tty:101"]);
  });
});
