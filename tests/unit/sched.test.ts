// The scheduler's mechanism and the sched server's policies with a manual clock and a
// fake process controller: no process is signalled and nothing sleeps. The fake runs
// each "process" as a CPU model: one that computes burns CPU whenever it is not stopped.
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_QUANTUM_MS, MkError, QUANTUM_MIN_MS, SchedQueue, SYSTEM_QUANTUM_MIN_MS, type ProcessInfo } from "#abi";
import { ManualClock } from "#base/clock.ts";
import { createLogger } from "#base/log.ts";
import type { ProcessControl, ProcSample } from "../../kernel-core/src/sched/process-control.ts";
import { HOLD_MAX_MS, Scheduler, type NoQuantum, type ProcClass } from "../../kernel-core/src/sched/scheduler.ts";
import { decide, fair, minix, type PolicyName } from "../../services/sched/src/policy.ts";

const log = createLogger("test");
log.level = "silent";
const HZ = 100;

interface FakeProc {
  pid: number;
  label: string;
  stopped: boolean;
  computing: boolean;
  cpuNs: number;
  externallyStopped: boolean;
  hostNice?: number;
  /** A driver or server: never stopped, so not counted against cpus by the model. */
  system?: boolean;
}

/** A CPU model: a process that computes and is not stopped uses all of the time that passes. */
class FakeControl implements ProcessControl {
  readonly procs = new Map<number, FakeProc>();
  readonly log: string[] = [];
  maxRunning = 0;
  refuseVerify = new Set<number>();

  spawn(pid: number, label: string, computing: boolean): FakeProc {
    const p = { pid, label, stopped: false, computing, cpuNs: 0, externallyStopped: false };
    this.procs.set(pid, p);
    return p;
  }
  /** Time passes: every computing, running process uses it. */
  run(ms: number): void {
    for (const p of this.procs.values()) if (p.computing && !p.stopped && !p.externallyStopped) p.cpuNs += ms * 1e6;
  }
  verify(pid: number, label: string): boolean {
    return !this.refuseVerify.has(pid) && this.procs.get(pid)?.label === label;
  }
  stop(pid: number): boolean {
    const p = this.procs.get(pid);
    if (!p) return false;
    p.stopped = true;
    this.log.push(`stop ${p.label}`);
    return true;
  }
  kill(pid: number, sig: string): boolean {
    this.log.push(`kill ${pid} ${sig}`);
    return this.procs.has(pid);
  }
  cont(pid: number): boolean {
    const p = this.procs.get(pid);
    if (!p) return false;
    p.stopped = false;
    this.log.push(`cont ${p.label}`);
    this.maxRunning = Math.max(this.maxRunning, this.runningComputers());
    return true;
  }
  setHostNice(pid: number, nice: number): boolean {
    const p = this.procs.get(pid);
    if (p) p.hostNice = nice;
    return p !== undefined;
  }
  sample(pid: number): ProcSample | undefined {
    const p = this.procs.get(pid);
    if (!p) return undefined;
    return { state: p.stopped || p.externallyStopped ? "T" : p.computing ? "R" : "S", cpuNs: p.cpuNs, nice: p.hostNice };
  }
  /** Computing user programs the scheduler controls that are not stopped. */
  runningComputers(): number {
    return [...this.procs.values()].filter(
      (p) => p.computing && !p.system && !p.stopped && !p.externallyStopped && !this.refuseVerify.has(p.pid),
    ).length;
  }
}

let clock: ManualClock;
let control: FakeControl;
let sched: Scheduler;
let asked: NoQuantum[];
let events: string[];
let policyUp: boolean;
let policyName: PolicyName | undefined;
/** A hostile or broken sched (issue 19, item 10): every process to the lowest queue with a 1 ms quantum. */
let hostile: boolean;
/** What the kernel answered the hostile policy: "endpoint errno" ("OK": taken). */
let answered: string[];

function make(cpus = 1, o: { policy?: PolicyName | "hostile" } = {}): void {
  clock = new ManualClock();
  control = new FakeControl();
  asked = [];
  events = [];
  answered = [];
  policyUp = true;
  hostile = o.policy === "hostile";
  policyName = o.policy === "hostile" ? undefined : o.policy;
  sched = new Scheduler({
    clock,
    control,
    log,
    enabled: true,
    cpus,
    pitHz: HZ,
    policyLabel: "sched",
    policy: async (m) => {
      asked.push(m);
      if (!policyUp) return false;
      if (policyName) {
        const d = decide(policyName, m);
        queueMicrotask(() => sched.schedule(m.endpoint, d.priority, d.quantum_ms));
      }
      if (hostile)
        queueMicrotask(() => answered.push(`${m.endpoint} ${errnoOf(() => sched.schedule(m.endpoint, SchedQueue.LOWEST, 1)) ?? "OK"}`));
      return true;
    },
    event: (row, detail) => events.push(`${row.label}: ${detail}`),
  });
}

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof MkError ? e.errno : "not an MkError";
  }
  return undefined;
}

let nextPid = 100;
function proc(
  label: string,
  cls: ProcClass,
  computing: boolean,
  extra: { quantumMs?: number; nice?: number; priority?: number } = {},
): FakeProc {
  const p = control.spawn(nextPid++, label, computing);
  p.system = cls !== "user";
  sched.add({ key: `${label}#1`, label, pid: p.pid, placement: "user", host: "here" }, { cls, ...extra });
  return p;
}

/** Runs the machine for ms: time passes in ticks, each charged by the scheduler. */
async function run(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000 / HZ) {
    clock.advance(1000 / HZ);
    control.run(1000 / HZ);
    sched.tick();
    await Promise.resolve(); // the policy's answers (microtasks)
    expect(control.runningComputers()).toBeLessThanOrEqual(cpusOf());
  }
}
let cpusValue = 1;
const cpusOf = () => cpusValue;

function row(label: string): ProcessInfo {
  const r = sched.rows().find((x) => x.label === label);
  if (!r) throw new Error(`no row ${label}`);
  return r;
}

beforeEach(() => {
  cpusValue = 1;
  make(1);
});

describe("scheduler (mechanism)", () => {
  it("sched - with one CPU, CPU-bound user programs take turns a quantum at a time; the rest are really stopped", async () => {
    const a = proc("a", "user", true, { quantumMs: 50 });
    const b = proc("b", "user", true, { quantumMs: 50 });
    const c = proc("c", "user", true, { quantumMs: 50 });
    await run(30); // the first tick sees them computing
    expect(control.runningComputers()).toBe(1);
    await run(1500);
    const cpu = [a, b, c].map((p) => p.cpuNs / 1e6);
    // 1.5 s of one CPU, shared in 50 ms turns: each within one quantum of a third.
    for (const ms of cpu) expect(Math.abs(ms - 500)).toBeLessThanOrEqual(60);
    expect(row("a").involuntary + row("b").involuntary + row("c").involuntary).toBeGreaterThan(20);
    expect(control.maxRunning).toBe(1);
    expect(sched.summary().stops).toBeGreaterThan(20);
  });

  it("sched - cpus sets how many run at once", async () => {
    cpusValue = 2;
    make(2);
    for (const l of ["a", "b", "c", "d"]) proc(l, "user", true, { quantumMs: 40 });
    await run(1000);
    expect(control.maxRunning).toBe(2);
    const total = sched.rows().reduce((s, r) => s + r.cpu_ms, 0);
    expect(total).toBeGreaterThan(1900); // two CPUs' worth, less the first tick
  });

  it("sched - a message for a driver preempts a computing user program at once; a short request costs no signal (the host runs the driver first) and the program goes on once it is answered", async () => {
    const hog = proc("hog", "user", true);
    const ata = proc("ata", "driver", false);
    await run(50);
    control.log.length = 0;
    const { wait, release } = sched.enter("ata#1", "client#1", true);
    expect(wait).toBeUndefined(); // handed over at once
    expect(row("ata").state).toBe("running");
    expect(row("hog").state).toBe("ready"); // lost its CPU in the table
    expect(row("hog").involuntary).toBe(1);
    expect([ata.hostNice, hog.hostNice]).toEqual([0, 19]); // and behind the driver in the host
    clock.advance(2);
    control.run(2);
    release(); // answered within the tick period
    expect(row("ata").state).toBe("receiving");
    expect(row("ata").voluntary).toBe(1);
    expect(row("hog").state).toBe("running");
    expect(control.log).toEqual([]); // no stop, no continue
    await run(50);
    expect(hog.stopped).toBe(false);
  });

  it("sched - a driver still running a tick period after it preempted a program has the program really stopped, and continued once the driver blocks", async () => {
    const hog = proc("hog", "user", true);
    const ata = proc("ata", "driver", false);
    await run(50);
    const { release } = sched.enter("ata#1", "client#1", true);
    ata.computing = true; // a long request
    expect(hog.stopped).toBe(false);
    clock.advance(5);
    control.run(5);
    sched.tick(); // a tick half a period later: not yet
    expect(hog.stopped).toBe(false);
    await run(10); // a period later
    expect(hog.stopped).toBe(true);
    expect(row("hog").state).toBe("preempted");
    expect(row("hog").stat).toBe("T");
    expect(row("hog").involuntary).toBe(1); // one preemption, one stop
    const cpuWhilePreempted = hog.cpuNs;
    await run(30);
    expect(hog.cpuNs).toBe(cpuWhilePreempted);
    ata.computing = false;
    release();
    expect(hog.stopped).toBe(false);
    expect(row("hog").state).toBe("running");
  });

  it("sched - a lazily preempted program that blocks is not stopped at the tick: nothing is left to preempt", async () => {
    const hog = proc("hog", "user", true);
    const ata = proc("ata", "driver", false);
    await run(20);
    const e = sched.enter("ata#1", "client#1", true);
    ata.computing = true;
    const call = sched.enter("ata#1", "hog#1", true); // the program traps into sendrec and waits
    hog.computing = false;
    await run(30);
    expect(hog.stopped).toBe(false);
    expect(row("hog").state).toBe("reply");
    ata.computing = false;
    call.release();
    e.release();
    hog.computing = true;
    await run(20);
    expect(row("hog").state).toBe("running");
    expect(control.log.filter((l) => l.endsWith(" hog"))).toEqual([]); // never signalled
  });

  it("sched - a program that raises its own host priority is set back and loses lazy preemption: a driver's request stops it at once", async () => {
    const hog = proc("hog", "user", true);
    proc("ata", "driver", false);
    await run(50);
    hog.hostNice = -5; // renice -5 by its own hand (root can)
    await run(10);
    expect(hog.hostNice).toBe(19);
    expect(events.some((e) => /hog: raised its Linux nice to -5/.test(e))).toBe(true);
    const e = sched.enter("ata#1", "client#1", true);
    expect(hog.stopped).toBe(true);
    e.release();
    expect(hog.stopped).toBe(false);
  });

  it("sched - a lazily preempted program whose quantum runs out behind the driver is stopped before the next program is continued", async () => {
    const a = proc("a", "user", true, { quantumMs: 20 });
    const b = proc("b", "user", true, { quantumMs: 20 });
    const ata = proc("ata", "driver", false);
    await run(20);
    clock.advance(1);
    control.run(1);
    const { release } = sched.enter("ata#1", "client#1", true);
    ata.computing = true;
    expect(row("a").state).toBe("ready");
    clock.advance(9);
    control.run(9); // a computes on behind the driver (the host's share), charged for it
    sched.tick(); // 9 ms: less than a period, still lazy; a's quantum is gone
    expect(a.stopped).toBe(false);
    ata.computing = false;
    control.log.length = 0;
    release();
    expect(control.log).toEqual(["stop a", "cont b"]);
    expect(control.runningComputers()).toBe(1);
    expect([a.stopped, b.stopped]).toEqual([true, false]);
  });

  it("sched - a lazily preempted program the host starves behind the driver stays runnable and counted: it cannot compute beside the next program", async () => {
    const a = proc("a", "user", true);
    const b = proc("b", "user", true);
    const ata = proc("ata", "driver", false);
    await run(20);
    expect([a.stopped, b.stopped]).toEqual([false, true]);
    const { release } = sched.enter("ata#1", "client#1", true);
    ata.computing = true;
    a.computing = false; // nice 19 behind a nice-0 driver: next to no CPU at this tick
    clock.advance(5);
    control.run(5);
    sched.tick();
    expect(row("a").state).toBe("ready"); // not "receiving": it is runnable, only starved
    expect(row("a").stat).toBe("R");
    ata.computing = false;
    release();
    a.computing = true;
    expect(control.runningComputers()).toBeLessThanOrEqual(1);
    await run(50);
  });

  it("sched - a program that raises its own priority while lazily preempted is stopped once, at the next tick", async () => {
    const hog = proc("hog", "user", true);
    const ata = proc("ata", "driver", false);
    await run(50);
    sched.enter("ata#1", "client#1", true);
    ata.computing = true;
    hog.hostNice = -5;
    control.log.length = 0;
    const before = sched.summary().stops;
    clock.advance(5);
    control.run(5);
    sched.tick(); // half a period: stopped anyway, it no longer trusts the host's priority
    expect(control.log.filter((l) => l === "stop hog")).toEqual(["stop hog"]);
    expect(sched.summary().stops - before).toBe(1);
    expect(hog.hostNice).toBe(19);
  });

  it("sched - a program that raises its priority before the kernel ever looked at it is set back all the same (the nice was set at once)", async () => {
    const hog = proc("hog", "user", true);
    hog.hostNice = -5; // at once, before the first tick
    await run(10);
    expect(hog.hostNice).toBe(19);
    expect(events.some((e) => /hog: raised its Linux nice to -5/.test(e))).toBe(true);
  });

  it("sched - a program that raises its priority again and again is set back at every look, with one event", async () => {
    const hog = proc("hog", "user", true);
    await run(50);
    let raised = 0;
    for (let i = 0; i < 40; i++) {
      hog.hostNice = -5;
      await run(10);
      if (hog.hostNice < 19) raised++;
    }
    expect(raised).toBe(0);
    expect(events.filter((e) => /raised its Linux nice/.test(e))).toHaveLength(1);
  });

  it("sched - a host nice that could not be set (the agent reconnecting) is set at a later look", async () => {
    const real = control.setHostNice.bind(control);
    let up = false;
    control.setHostNice = (pid, n) => (up ? real(pid, n) : false);
    const hog = proc("hog", "user", true);
    await run(50);
    expect(hog.hostNice).toBeUndefined();
    up = true;
    await run(20);
    expect(hog.hostNice).toBe(19);
  });

  it("sched - a nice the agent has not applied yet is not taken for the program raising its own", async () => {
    const pending: (() => void)[] = [];
    const real = control.setHostNice.bind(control);
    control.setHostNice = (pid, n) => {
      pending.push(() => real(pid, n));
      return true;
    };
    Object.assign(control, { niceLater: true }); // an agent: "asked", not "done"
    const hog = proc("hog", "user", true);
    hog.hostNice = 0; // what it started with
    proc("ata", "driver", false);
    await run(400); // the agent is slow
    for (const f of pending.splice(0)) f();
    await run(20);
    expect(events.filter((e) => /raised its Linux nice/.test(e))).toEqual([]);
    const e = sched.enter("ata#1", "client#1", true);
    expect(hog.stopped).toBe(false); // still preempted lazily
    e.release();
  });

  it("sched - a message for a server that may not run yet is held in the kernel, by priority, and handed over when the server is dispatched; a server is never stopped", async () => {
    const hog = proc("hog", "server", true, { quantumMs: 100 }); // a busy server at the same queue
    const vfs = proc("vfs", "server", false);
    await run(20);
    const { wait, release } = sched.enter("vfs#1", "client#1", true);
    expect(wait).toBeDefined(); // same queue, the hog is first: the message waits its turn
    let handedOver = false;
    void wait!.then(() => (handedOver = true));
    expect(vfs.stopped).toBe(false);
    expect(row("vfs").state).toBe("ready");
    await run(50);
    expect(handedOver).toBe(false);
    vfs.computing = true; // handling the message, once it has it
    await run(80); // the hog's quantum runs out: vfs's turn
    expect(handedOver).toBe(true);
    expect(row("vfs").state).toBe("running");
    expect(hog.stopped).toBe(false); // a server: not stopped, only not dispatched
    expect(row("hog").state).toBe("ready");
    vfs.computing = false;
    release();
    expect(row("hog").state).toBe("running");
  });

  it("sched - a message for a driver is never held behind user programs, even ones that are not stopped", async () => {
    const hog = proc("hog", "user", true);
    const hog2 = proc("hog2", "user", true);
    proc("ata", "driver", false);
    await run(20);
    const e = sched.enter("ata#1", "client#1", true);
    expect(e.wait).toBeUndefined();
    expect(row("ata").state).toBe("running");
    expect([hog.stopped, hog2.stopped]).toEqual([false, true]);
    e.release();
    expect(row("hog").state).toBe("running");
  });

  it("sched - a held message goes on when its server dies (the trap path then fails it)", async () => {
    proc("hog", "server", true, { quantumMs: 1000 });
    proc("vfs", "server", false);
    await run(20);
    const { wait, release } = sched.enter("vfs#1", "client#1", true);
    let resolved = false;
    void wait!.then(() => (resolved = true));
    sched.remove("vfs#1");
    await Promise.resolve();
    expect(resolved).toBe(true);
    release();
  });

  it("sched - a process with messages that sleeps anyway (waiting on what the kernel does not see) gives up the CPU at the next tick", async () => {
    const vfs = proc("vfs", "server", false);
    const mfs = proc("mfs", "server", true); // e.g. checking its disk at start
    const { release } = sched.enter("vfs#1", "client#1", true); // vfs has a request, and waits for mfs to start
    await run(20);
    expect(mfs.stopped).toBe(false);
    expect(vfs.stopped).toBe(false);
    expect(row("vfs").state).toBe("receiving");
    await run(1000);
    expect(mfs.cpuNs / 1e6).toBeGreaterThan(950);
    release();
  });

  it("sched - a blocked process gets no CPU and no quantum: a caller waiting in sendrec is not charged", async () => {
    const caller = proc("caller", "user", true, { quantumMs: 100 });
    const hog = proc("hog", "user", true, { quantumMs: 100 });
    await run(20);
    const { release } = sched.enter("server#1", "caller#1", true); // caller blocks on a reply
    caller.computing = false; // in sendrec: a real blocked process uses no CPU
    expect(row("caller").state).toBe("reply");
    const before = row("caller");
    await run(1000);
    expect(row("caller").cpu_ms).toBe(before.cpu_ms);
    expect(row("caller").left_ms).toBe(before.left_ms);
    expect(row("caller").involuntary).toBe(before.involuntary);
    expect(caller.stopped).toBe(false); // blocked, not stopped
    expect(hog.cpuNs / 1e6).toBeGreaterThan(950);
    release();
  });

  it("sched - a user program that never blocks cannot starve a driver, and no policy can raise it above its class", async () => {
    proc("hog", "user", true);
    const ata = proc("ata", "driver", false);
    await run(100);
    for (let i = 0; i < 50; i++) {
      const { release } = sched.enter("ata#1", "client#1", true);
      expect(ata.stopped).toBe(false);
      expect(row("ata").state).toBe("running");
      await run(10);
      release();
    }
    expect(errnoOf(() => sched.schedule("hog#1", SchedQueue.DRIVER, 100))).toBe("EINVAL");
  });

  it("sched - SYS_SCHEDULE out of range is EINVAL and the process keeps its settings", async () => {
    proc("p", "user", true, { quantumMs: 80 });
    const bad: [number, number][] = [
      [16, 100],
      [-1, 100],
      [8, 0],
      [8, 36_000_000],
      [7.5, 100],
      [8, Number.NaN],
    ];
    for (const [prio, q] of bad) {
      let err: unknown;
      try {
        sched.schedule("p#1", prio, q);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MkError);
      expect((err as MkError).errno).toBe("EINVAL");
    }
    expect(row("p").priority).toBe(SchedQueue.USER);
    expect(row("p").quantum_ms).toBe(80);
    expect(sched.summary().refused).toBe(bad.length);
    expect(errnoOf(() => sched.schedule("gone#3", 8, 100))).toBe("EDEADSRCDST");
    expect(errnoOf(() => sched.schedule("not an endpoint", 8, 100))).toBe("EBADSRCDST");
  });

  it("sched - a policy putting a driver at queue 15 with a 1 ms quantum is refused with EINVAL and the driver keeps its queue and quantum; drivers and servers stay above user programs", async () => {
    proc("ata", "driver", true);
    proc("vfs", "server", true);
    proc("slow", "server", false, { priority: 9, quantumMs: 20 }); // the privilege table placed it below user programs itself
    const bad: [string, number, number][] = [
      ["ata#1", SchedQueue.LOWEST, 1], // the attack
      ["ata#1", SchedQueue.LOWEST, DEFAULT_QUANTUM_MS], // its quantum, but below user programs
      ["ata#1", SchedQueue.USER, DEFAULT_QUANTUM_MS], // level with user programs is below them (first come first within a queue)
      ["ata#1", SchedQueue.DRIVER, 1], // its queue, but a quantum under the floor
      ["ata#1", SchedQueue.DRIVER, SYSTEM_QUANTUM_MIN_MS - 1],
      ["vfs#1", SchedQueue.LOWEST, 1],
      ["slow#1", 10, 20], // below where the table put it
      ["slow#1", 9, 19],
    ];
    for (const [ep, prio, q] of bad)
      expect(
        errnoOf(() => sched.schedule(ep, prio, q)),
        `${ep} queue ${prio}, ${q} ms`,
      ).toBe("EINVAL");
    expect(row("ata")).toMatchObject({ priority: SchedQueue.DRIVER, quantum_ms: DEFAULT_QUANTUM_MS });
    expect(row("vfs")).toMatchObject({ priority: SchedQueue.SERVER, quantum_ms: DEFAULT_QUANTUM_MS });
    expect(row("slow")).toMatchObject({ priority: 9, quantum_ms: 20 });
    expect(sched.summary().refused).toBe(bad.length);
    // Within the floors the policy still decides.
    sched.schedule("ata#1", SchedQueue.USER - 1, SYSTEM_QUANTUM_MIN_MS);
    expect(row("ata")).toMatchObject({ priority: SchedQueue.USER - 1, quantum_ms: SYSTEM_QUANTUM_MIN_MS });
    sched.schedule("slow#1", 9, 20);
    expect(sched.summary().policy).toBe("server");
  });

  it("sched - user programs can still be moved by the policy anywhere within their own bounds", async () => {
    proc("p", "user", true, { quantumMs: 80 });
    sched.schedule("p#1", SchedQueue.LOWEST, QUANTUM_MIN_MS);
    expect(row("p")).toMatchObject({ priority: SchedQueue.LOWEST, quantum_ms: QUANTUM_MIN_MS });
    sched.schedule("p#1", SchedQueue.USER, 500);
    expect(row("p")).toMatchObject({ priority: SchedQueue.USER, quantum_ms: 500 });
    expect(errnoOf(() => sched.schedule("p#1", SchedQueue.USER - 1, 100))).toBe("EINVAL"); // above its ceiling, as ever
    expect(sched.summary()).toMatchObject({ policy: "server", refused: 1 });
  });

  it("sched - a flood of absurd answers: the kernel takes its own round robin for a while, restores drivers and servers, says so once, and asks sched again later", async () => {
    make(1, { policy: "hostile" });
    proc("hog", "user", true, { quantumMs: 20 });
    proc("hog2", "user", true, { quantumMs: 20 });
    proc("ata", "driver", true);
    proc("vfs", "server", true);
    // Moved within their floors first (a policy may), and then every answer absurd.
    sched.schedule("ata#1", SchedQueue.USER - 1, SYSTEM_QUANTUM_MIN_MS);
    sched.schedule("vfs#1", SchedQueue.USER - 1, SYSTEM_QUANTUM_MIN_MS);
    for (let t = 0; t < 5000 && sched.summary().policy !== "round-robin"; t += 10) await run(10);
    const system = answered.filter((a) => /^(ata|vfs)#/.test(a));
    expect(system.length).toBeGreaterThan(0);
    expect(system.every((a) => a.endsWith(" EINVAL"))).toBe(true); // every one refused
    expect(sched.summary().policy).toBe("round-robin");
    expect(sched.summary().policy_suspended_ms).toBeGreaterThan(0);
    expect(row("ata")).toMatchObject({ priority: SchedQueue.DRIVER, quantum_ms: DEFAULT_QUANTUM_MS });
    expect(row("vfs")).toMatchObject({ priority: SchedQueue.SERVER, quantum_ms: DEFAULT_QUANTUM_MS });
    const fallbacks = () => events.filter((e) => /policy: the kernel's own round robin for \d+ s/.test(e));
    expect(fallbacks()).toHaveLength(1);
    // While it lasts the kernel does not ask sched and refuses what sched sends anyway (EAGAIN).
    const askedAt = asked.length;
    await run(2000);
    expect(asked.length).toBe(askedAt);
    expect(errnoOf(() => sched.schedule("hog#1", SchedQueue.LOWEST, 100))).toBe("EAGAIN");
    expect(row("ata")).toMatchObject({ priority: SchedQueue.DRIVER, quantum_ms: DEFAULT_QUANTUM_MS });
    expect(fallbacks()).toHaveLength(1);
    // Later it asks sched again (a sane one by then): its answers are taken.
    hostile = false;
    policyName = "fair";
    await run(sched.summary().policy_suspended_ms! + 500);
    expect(asked.length).toBeGreaterThan(askedAt);
    expect(sched.summary().policy).toBe("server");
    expect(sched.summary().policy_suspended_ms).toBeUndefined();
  });

  it("sched - quantum expiry asks the policy, which hears whether the process blocked; its answer takes effect", async () => {
    make(1, { policy: "minix" });
    proc("hog", "user", true, { quantumMs: 50 });
    proc("other", "user", true, { quantumMs: 50 });
    await run(2000);
    expect(asked.length).toBeGreaterThan(10);
    expect(asked.every((m) => m.blocked === 0)).toBe(true);
    // MINIX: used the whole quantum every time: sunk to the lowest queue.
    expect(row("hog").priority).toBe(SchedQueue.LOWEST);
    expect(events.some((e) => e.startsWith("hog: sched: queue 7, 50 ms -> queue 8"))).toBe(true);
  });

  it("sched - without the sched server the kernel goes on round robin, and catches up when sched answers again", async () => {
    make(1, { policy: "fair" });
    policyUp = false;
    const a = proc("a", "user", true, { quantumMs: 50, nice: 0 });
    const b = proc("b", "user", true, { quantumMs: 50, nice: -6 });
    await run(1000);
    expect(sched.summary().policy).toBe("round-robin");
    expect(Math.abs(a.cpuNs - b.cpuNs) / 1e6).toBeLessThanOrEqual(60); // equal turns
    policyUp = true;
    await run(500);
    expect(sched.summary().policy).toBe("server");
    expect(row("b").quantum_ms).toBe(fair({ ...asked[0], nice: -6 }).quantum_ms);
    expect(events.some((e) => e.includes("policy: the sched server's"))).toBe(true);
  });

  it("sched - weighted fair share: weights 1:2:4 get CPU within 10% of 1:2:4", async () => {
    make(1, { policy: "fair" });
    const ps = [
      proc("w1", "user", true, { nice: 0, quantumMs: 50 }),
      proc("w2", "user", true, { nice: -3, quantumMs: 50 }),
      proc("w4", "user", true, { nice: -6, quantumMs: 50 }),
    ];
    await run(30_000);
    const cpu = ps.map((p) => p.cpuNs);
    const total = cpu.reduce((s, x) => s + x, 0);
    const want = [1, 2, 4].map((w) => w / 7);
    cpu.forEach((c, i) => expect(Math.abs(c / total - want[i]) / want[i]).toBeLessThan(0.1));
  });

  it("sched - a process that dies while stopped is continued, never left frozen", async () => {
    proc("a", "user", true);
    const b = proc("b", "user", true);
    await run(30);
    const stopped = b.stopped ? b : control.procs.get(b.pid - 1)!;
    expect(stopped.stopped).toBe(true);
    sched.remove(`${stopped.label}#1`);
    expect(stopped.stopped).toBe(false);
  });

  it("sched - a process someone else stopped (a chaos hang) is not continued, and does not hold a CPU", async () => {
    const hung = proc("hung", "user", true);
    const other = proc("other", "user", true);
    await run(30);
    hung.externallyStopped = true;
    hung.stopped = false;
    await run(500);
    expect(row("hung").stat).toBe("T");
    expect(control.log.filter((l) => l === "cont hung").length).toBeLessThanOrEqual(1);
    expect(other.stopped).toBe(false);
    expect(other.cpuNs / 1e6).toBeGreaterThan(400);
  });

  it("sched - a process the kernel cannot verify is listed free and never stopped", async () => {
    control.refuseVerify.add(nextPid);
    const stranger = proc("stranger", "user", true);
    proc("hog", "user", true);
    await run(500);
    expect(row("stranger").state).toBe("free");
    expect(stranger.stopped).toBe(false);
    expect(control.log.some((l) => l.endsWith("stranger"))).toBe(false);
  });

  it("sched - the host runs drivers and servers at Linux nice 0 and user programs at 19, at every queue", async () => {
    make(1, { policy: "minix" });
    const ata = proc("ata", "driver", false);
    const vfs = proc("vfs", "server", false);
    const hog = proc("hog", "user", true, { quantumMs: 20 });
    expect([ata.hostNice, vfs.hostNice, hog.hostNice]).toEqual([0, 0, 19]);
    await run(1000);
    expect(row("hog").priority).toBe(SchedQueue.LOWEST);
    expect(hog.hostNice).toBe(19);
  });

  it("sched - a continue that does not happen leaves the process stopped in the books, and it is continued at its next turn, never frozen", async () => {
    const a = proc("a", "user", true, { quantumMs: 50 });
    const b = proc("b", "user", true, { quantumMs: 50 });
    await run(30);
    const failing = control.cont.bind(control);
    control.cont = () => false; // the agent is away
    await run(200);
    expect([a.stopped, b.stopped]).toContain(true);
    control.cont = failing;
    await run(1000);
    expect(a.cpuNs / 1e6).toBeGreaterThan(300);
    expect(b.cpuNs / 1e6).toBeGreaterThan(300);
    expect(row("a").state === "running" || row("b").state === "running").toBe(true);
  });

  it("sched - a program that computes while a sendrec of its is outstanding is runnable: it cannot escape cpus", async () => {
    const a = proc("a", "user", true, { quantumMs: 50 });
    proc("b", "user", true, { quantumMs: 50 });
    await run(30);
    const { release } = sched.enter("tty#1", "a#1", true); // a waits for a line, and goes on computing
    await run(500); // run() checks at every tick that at most cpus programs compute
    expect(a.cpuNs / 1e6).toBeGreaterThan(150);
    expect(row("a").involuntary).toBeGreaterThan(0);
    release();
  });

  it("sched - a message held for a server goes on after HOLD_MAX_MS even if a higher queue computes all along", async () => {
    proc("spinner", "driver", true, { quantumMs: 10_000 }); // a driver stuck in a loop
    proc("vfs", "server", false);
    await run(30);
    const { wait, release } = sched.enter("vfs#1", "client#1", true);
    let went = false;
    void wait!.then(() => (went = true));
    await run(HOLD_MAX_MS - 50);
    expect(went).toBe(false);
    await run(100);
    expect(went).toBe(true);
    expect(sched.summary().held_too_long).toBe(1);
    release();
  });

  it("sched - a user program that sank under the minix policy rises one queue every 5 s, even while it never runs", async () => {
    make(1, { policy: "minix" });
    const a = proc("a", "user", true, { quantumMs: 20 });
    proc("b", "user", true, { quantumMs: 20 });
    await run(1000);
    expect(row("a").priority).toBe(SchedQueue.LOWEST);
    a.externallyStopped = true; // a no longer runs at all (so the policy never hears of it)
    await run(5100);
    expect(row("a").priority).toBe(SchedQueue.LOWEST - 1);
  });

  it("sched - SYS_SCHEDULE on a process the kernel does not schedule is EINVAL", () => {
    control.refuseVerify.add(nextPid);
    proc("stranger", "user", true);
    expect(errnoOf(() => sched.schedule("stranger#1", 9, 100))).toBe("EINVAL");
  });

  it("sched - without PIT ticks the kernel ticks itself: quanta still run out", async () => {
    sched.start();
    const a = proc("a", "user", true, { quantumMs: 50 });
    const b = proc("b", "user", true, { quantumMs: 50 });
    for (let t = 0; t < 1000; t += 10) {
      clock.advance(10);
      control.run(10);
      await Promise.resolve();
    }
    expect(a.cpuNs / 1e6).toBeGreaterThan(200);
    expect(b.cpuNs / 1e6).toBeGreaterThan(200);
    sched.stop();
  });

  it("sched - nice is kept per label and refused outside -20..19", () => {
    proc("p", "user", true);
    sched.nice("p", -5);
    expect(row("p").nice).toBe(-5);
    expect(errnoOf(() => sched.nice("p", 20))).toBe("EINVAL");
    expect(errnoOf(() => sched.nice("p", 1.5))).toBe("EINVAL");
    expect(row("p").nice).toBe(-5);
    const before = events.length;
    sched.nice("p", -5); // no change: no event
    expect(events.length).toBe(before);
  });
});

describe("sched server policies", () => {
  const m: NoQuantum = {
    endpoint: "p#1",
    class: "user",
    priority: 7,
    base_priority: 7,
    quantum_ms: 200,
    base_quantum_ms: 200,
    nice: 0,
    blocked: 0,
    cpu_ms: 0,
  };
  it("sched - minix: a process that used its quantum sinks, one that blocked rises to its ceiling, never past it", () => {
    expect(minix(m)).toEqual({ priority: 8, quantum_ms: 200 });
    expect(minix({ ...m, priority: 15 }).priority).toBe(15);
    expect(minix({ ...m, priority: 10, blocked: 3 }).priority).toBe(9);
    expect(minix({ ...m, priority: 7, blocked: 3 }).priority).toBe(7);
    expect(minix({ ...m, priority: 7, blocked: 3, nice: 10 }).priority).toBe(9);
  });
  it("sched - fair: the quantum follows the weight of nice, the queue stays the class's", () => {
    expect(fair(m)).toEqual({ priority: 7, quantum_ms: 200 });
    expect(fair({ ...m, nice: -3 }).quantum_ms).toBe(389);
    expect(fair({ ...m, nice: -6 }).quantum_ms).toBe(763);
    expect(fair({ ...m, base_quantum_ms: 50, nice: -6 }).quantum_ms).toBe(191);
    expect(fair({ ...m, nice: 19 }).quantum_ms).toBe(10);
    expect(fair({ ...m, nice: -20, priority: 15 }).priority).toBe(7);
    // A niced driver keeps the kernel's floor for drivers and servers (or its own shorter table quantum).
    expect(fair({ ...m, class: "driver", base_priority: 2, nice: 19 }).quantum_ms).toBe(SYSTEM_QUANTUM_MIN_MS);
    expect(fair({ ...m, class: "driver", base_priority: 2, base_quantum_ms: 20, nice: 19 }).quantum_ms).toBe(20);
  });
});
