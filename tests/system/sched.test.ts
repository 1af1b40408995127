// Scheduling with real processes: kernel-core stops and continues CPU-bound user programs
// (SIGSTOP/SIGCONT), shares the one mkos CPU by weight, keeps drivers ahead of them, and
// gives a blocked program nothing. CPU time is read from /proc, not from the kernel's books.
import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import { relative } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MkError, niceWeight, Sched, SchedQueue, SysCall, type KernelEvent, type ProcessInfo } from "#abi";
import { readProcStat } from "../../kernel-core/src/sched/process-control.ts";
import { endAll, startSpin } from "../../bench/programs.ts";
import { BdevClient, followEvents, sysGetProcesses, sysSchedule, systemClock, waitUntil, type RunningService } from "#libsys";
import { bootTestSystem, ROOT, runMkctl, type TestSystem } from "../helpers/system.ts";

const HOGS = ["hog1", "hog2", "hog3", "hog4"];
const SERVICES = `
${HOGS.map((h) => `  ${h}:\n    calls: [getinfo]\n    sched: { quantum_ms: 50 }\n`).join("")}
  reader:
    ipc: [tty]
    input: [tty]
  policy:
    ipc: [sched]
    calls: [schedule, getinfo]
`;

let ts: TestSystem;
let client: RunningService;
const spawned: ChildProcess[] = [];

/** Starts bench/spin.ts as label, with MK_CREDS relative to its working directory as the README writes it. */
async function program(label: string, mode: "compute" | "read" = "compute"): Promise<ChildProcess> {
  const child = await startSpin(label, relative(ROOT, ts.sys.credFile(label)), mode);
  spawned.push(child);
  return child;
}

const stopPrograms = () => endAll(spawned);
const cpuMs = (pid: number) => readProcStat(pid)?.cpuMs ?? 0;
const procState = (pid: number) => readProcStat(pid)?.state;

async function rows(): Promise<ProcessInfo[]> {
  return (await sysGetProcesses(client.sys)).processes;
}

async function row(label: string): Promise<ProcessInfo> {
  const r = (await rows()).find((p) => p.label === label);
  if (!r) throw new Error(`${label} has no row in the process table`);
  return r;
}

/** Until every label has a row (its SYS_HELLO reached the kernel and its pid was verified). */
async function registered(...labels: string[]): Promise<void> {
  await waitUntil(
    async () => {
      const now = await rows();
      return labels.every((l) => now.some((p) => p.label === l && p.state !== "free")) ? true : undefined;
    },
    { clock: systemClock, deadlineMs: 10_000, what: `${labels.join(", ")} in the process table` },
  );
}

beforeAll(async () => {
  // One mkos CPU: the other core stays the machine's (kernel-core, NATS, the emulator).
  ts = await bootTestSystem({ services: SERVICES, env: { MK_SCHED_CPUS: "1" } });
  client = await ts.client();
}, 60_000);
afterEach(stopPrograms);
afterAll(async () => {
  await stopPrograms();
  await ts?.down();
});

describe("scheduling (process mode)", () => {
  it("sched - three CPU-bound programs with weights 1:2:4 (nice 0, -3, -6) get CPU shares within 15% of 1:2:4", async () => {
    for (const [label, n] of [
      ["hog1", "0"],
      ["hog2", "-3"],
    ]) {
      const r = runMkctl(ts, "nice", label, n);
      expect(r.status, r.stderr).toBe(0);
    }
    const r = runMkctl(ts, "nice", "hog3", "-6");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hog3: nice -6/);
    const hogs = [await program("hog1"), await program("hog2"), await program("hog3")];
    await registered("hog1", "hog2", "hog3");
    // Until sched has answered for each: the fair policy's quantum, 50 ms times the weight of its nice over 1024.
    const quanta = [0, -3, -6].map((n) => Math.round((50 * niceWeight(n)) / 1024));
    await waitUntil(
      async () => {
        const now = await rows();
        return ["hog1", "hog2", "hog3"].every((l, i) => now.find((p) => p.label === l)?.quantum_ms === quanta[i]) ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, what: `the hogs' quanta ${quanta.join(", ")} ms from sched` },
    );
    // The window: until the three have used 5 s of CPU between them (many rounds of 338 ms).
    const before = hogs.map((h) => cpuMs(h.pid!));
    const t0 = Date.now();
    const usedNow = () => hogs.map((h, i) => cpuMs(h.pid!) - before[i]);
    await waitUntil(() => (usedNow().reduce((a, b) => a + b, 0) >= 5000 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 30_000,
      intervalMs: 50,
      what: "5 s of CPU used by the hogs",
    });
    const elapsed = Date.now() - t0;
    const used = usedNow();
    const total = used.reduce((s, x) => s + x, 0);
    const shares = used.map((u) => u / total);
    const want = [1, 2, 4].map((w) => w / 7);
    const x = shares.map((s, i) => s / [1, 2, 4][i]);
    const jain = x.reduce((s, v) => s + v, 0) ** 2 / (x.length * x.reduce((s, v) => s + v * v, 0));
    console.log(
      `shares ${shares.map((s) => s.toFixed(3)).join(" ")} (want ${want.map((s) => s.toFixed(3)).join(" ")}), Jain ${jain.toFixed(4)}, ${total} ms of CPU in ${elapsed} ms`,
    );
    // One mkos CPU: the three together used about one core, not two.
    expect(total).toBeLessThan(elapsed * 1.25);
    shares.forEach((s, i) => expect(Math.abs(s - want[i]) / want[i]).toBeLessThan(0.15));
    expect(jain).toBeGreaterThan(0.97);
  }, 60_000);

  it("sched - a preempted program is really stopped: T in Linux's /proc, in the kernel's table, in /proc/<label>/status and mkctl top", async () => {
    const hogs = [await program("hog1"), await program("hog2")];
    await registered("hog1", "hog2");
    const seen = await waitUntil(
      async () => {
        const now = await rows();
        const stopped = now.find((p) => p.label.startsWith("hog") && p.stat === "T");
        const running = now.find((p) => p.label.startsWith("hog") && p.state === "running");
        return stopped && running ? { stopped, running } : undefined;
      },
      { clock: systemClock, deadlineMs: 5000, what: "one hog running and one stopped" },
    );
    const pid = hogs.find((h) => h.pid === seen.stopped.pid)!.pid!;
    // Linux agrees (it may have been continued since: look a few times).
    await waitUntil(() => (procState(pid) === "T" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 3000,
      intervalMs: 5,
      what: `pid ${pid} in state T`,
    });
    // mkctl top: one sample (states change many times a second: look until one shows a hog stopped).
    await waitUntil(
      () => {
        const top = runMkctl(ts, "top", "--json");
        expect(top.status, top.stderr).toBe(0);
        const sample = JSON.parse(top.stdout) as { sched: { enabled: boolean; cpus: number; stops: number }; processes: ProcessInfo[] };
        expect(sample.sched).toMatchObject({ enabled: true, cpus: 1 });
        expect(sample.sched.stops).toBeGreaterThan(0);
        return sample.processes.some((p) => p.label.startsWith("hog") && p.stat === "T" && p.state === "preempted") ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, intervalMs: 50, what: "mkctl top --json showing a hog preempted" },
    );
    await waitUntil(
      () => {
        const text = runMkctl(ts, "top", "--count", "1");
        expect(text.stdout).toMatch(/^LABEL\s+PID\s+S\s+STATE/m);
        return /hog[12]\s+\d+\s+T\s+preempted/.test(text.stdout) ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, intervalMs: 50, what: "mkctl top showing a hog preempted" },
    );
    // /proc/<label>/status through vfs and procfs: look until it is caught stopped.
    await waitUntil(
      () => {
        const cat = runMkctl(ts, "fs", "cat", `/proc/${seen.stopped.label}/status`);
        return /Sched:\tT \(preempted\)/.test(cat.stdout) ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, intervalMs: 50, what: "/proc status showing T" },
    );
  }, 60_000);

  it("sched - a program blocked in sendrec gets no CPU and no quantum while others compute; the driver it waits on is not starved", async () => {
    const reader = await program("reader", "read");
    await program("hog1");
    await program("hog2");
    await registered("reader", "hog1", "hog2");
    await waitUntil(async () => ((await row("reader")).state === "reply" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "reader waiting in sendrec",
    });
    const before = await row("reader");
    const cpuBefore = cpuMs(reader.pid!);
    const t0 = Date.now();
    // The window: 150 of the kernel's ticks (1.5 s at 100 Hz), each a chance to charge or dispatch it.
    const ticks = (await sysGetProcesses(client.sys)).sched.ticks;
    await waitUntil(async () => ((await sysGetProcesses(client.sys)).sched.ticks >= ticks + 150 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      intervalMs: 100,
      what: "150 more ticks",
    });
    const after = await row("reader");
    const windowMs = Date.now() - t0;
    expect(after.state).toBe("reply");
    expect(after.stat).toBe("S");
    expect(procState(reader.pid!)).not.toBe("T");
    // Its quantum is untouched but for at most two ticks: once a second the program checks
    // that it has not been superseded (a kernel call), and a tick that lands in that
    // millisecond charges it the tick's wall time.
    expect(before.left_ms - after.left_ms).toBeGreaterThanOrEqual(0);
    expect(before.left_ms - after.left_ms).toBeLessThanOrEqual(20);
    // Dispatched only when it wakes (its check, kernel-core's announcement: once a second
    // each), at most once a wake-up; one so dispatched may lose the CPU to a driver or to
    // sched in that tick (involuntary, and right). Charged while blocked, it would switch
    // at every one of the 150 ticks.
    const wakeups = 2 * (Math.ceil(windowMs / 1000) + 1);
    const switches = after.voluntary + after.involuntary - (before.voluntary + before.involuntary);
    expect(switches).toBeLessThanOrEqual(wakeups);
    expect(after.cpu_ms - before.cpu_ms).toBeLessThanOrEqual(20);
    expect(cpuMs(reader.pid!) - cpuBefore).toBeLessThanOrEqual(40); // Linux: it slept
  }, 60_000);

  it("sched - four programs that never block cannot starve the ATA driver: reads keep their latency, the hogs are the ones preempted, mostly without a signal", async () => {
    const bdev = new BdevClient(client.sys, "ata");
    const reads = async (n: number) => {
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await bdev.read(64 + (i % 256) * 8, 8);
        lat.push(performance.now() - t0);
      }
      lat.sort((a, b) => a - b);
      return { p50: lat[Math.floor(n * 0.5)], p99: lat[Math.floor(n * 0.99)] };
    };
    await reads(50);
    const idle = await reads(300);
    for (const h of HOGS) await program(h);
    await registered(...HOGS);
    const ataBefore = await row("ata");
    const hogsBefore = (await rows()).filter((p) => p.label.startsWith("hog")).reduce((s, p) => s + p.involuntary, 0);
    const stopsBefore = (await sysGetProcesses(client.sys)).sched.stops;
    const loaded = await reads(300);
    const stops = (await sysGetProcesses(client.sys)).sched.stops - stopsBefore;
    const ataAfter = await row("ata");
    const hogsAfter = (await rows()).filter((p) => p.label.startsWith("hog")).reduce((s, p) => s + p.involuntary, 0);
    console.log(
      `ATA 4 KiB read idle p50 ${idle.p50.toFixed(2)} p99 ${idle.p99.toFixed(2)} ms; four hogs p50 ${loaded.p50.toFixed(2)} p99 ${loaded.p99.toFixed(2)} ms; hogs preempted ${hogsAfter - hogsBefore} times, ${stops} stops`,
    );
    expect(ataAfter.voluntary - ataBefore.voluntary).toBeGreaterThanOrEqual(290); // it ran and blocked, once a read
    expect(ataAfter.involuntary - ataBefore.involuntary).toBeLessThanOrEqual(5); // hardly ever preempted
    expect(hogsAfter - hogsBefore).toBeGreaterThanOrEqual(100); // the hogs made way
    // ... lazily: a read is shorter than a tick period, so the host's priority did it, not
    // a SIGSTOP and a SIGCONT a read (the stops are the hogs' turns and the odd long read).
    expect(stops).toBeLessThan(150);
    expect(loaded.p99).toBeLessThan(idle.p99 * 4 + 10);
  }, 90_000);

  it("sched - the kernel refuses a bad SYS_SCHEDULE with EINVAL and keeps the settings; only sched's grant may call it; only the kernel may tell sched", async () => {
    await program("hog1");
    await registered("hog1");
    const policy = await ts.client("policy");
    const hog = await row("hog1");
    const attempts: [number, number][] = [
      [16, 100],
      [-1, 100],
      [hog.priority, 0],
      [hog.priority, 36_000_000],
      [0, 100],
    ];
    for (const [prio, q] of attempts) {
      const e = await sysSchedule(policy.sys, hog.endpoint, prio, q).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e, `priority ${prio}, quantum ${q}`).toBeInstanceOf(MkError);
      expect((e as MkError).errno).toBe("EINVAL");
    }
    const same = await row("hog1");
    expect([same.priority, same.quantum_ms]).toEqual([hog.priority, hog.quantum_ms]);
    expect((await sysGetProcesses(client.sys)).sched.refused).toBeGreaterThanOrEqual(attempts.length);
    // A caller without `schedule` in its calls is refused by the privilege table.
    const denied = await client.sys.kernelCall(SysCall.SYS_SCHEDULE, { endpoint: hog.endpoint, priority: 9, quantum_ms: 100 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((denied as MkError).errno).toBe("ECALLDENIED");
    // A forged "quantum expired" from a client: sched refuses it.
    const forged = await policy.sys
      .sendrec("sched", Sched.SCHED_NO_QUANTUM, {
        endpoint: hog.endpoint,
        class: "user",
        priority: 7,
        base_priority: 7,
        quantum_ms: 100,
        base_quantum_ms: 200,
        nice: 0,
        blocked: 0,
        cpu_ms: 0,
      })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect((forged as MkError).errno).toBe("EPERM");
  }, 60_000);

  it("sched - a hostile policy cannot put ata, mfs and vfs below user programs with 1 ms quanta; a flood of such answers makes the kernel schedule on its own until a new sched starts", async () => {
    await program("hog1");
    await registered("hog1", "ata", "mfs", "vfs");
    const hostile = await ts.client("policy"); // holds `schedule`, as sched does
    const errnoOf = (p: Promise<unknown>) =>
      p.then(
        () => "OK",
        (e: unknown) => (e instanceof MkError ? e.errno : String(e)),
      );
    const system = (await rows()).filter((p) => ["ata", "mfs", "vfs"].includes(p.label));
    for (const p of system) expect(await errnoOf(sysSchedule(hostile.sys, p.endpoint, SchedQueue.LOWEST, 1)), p.label).toBe("EINVAL");
    for (const p of system) expect(await row(p.label), p.label).toMatchObject({ priority: p.priority, quantum_ms: p.quantum_ms });
    const events: KernelEvent[] = [];
    const follower = await followEvents(client.sys, (ev) => void (ev.kind === "sched" && events.push(ev)));
    try {
      // Answer after absurd answer: refused until the kernel stops listening (EAGAIN).
      const answers: string[] = [];
      for (let i = 0; i < 20 && answers.at(-1) !== "EAGAIN"; i++)
        answers.push(await errnoOf(sysSchedule(hostile.sys, system[0].endpoint, SchedQueue.LOWEST, 1)));
      expect(answers.at(-1)).toBe("EAGAIN");
      expect(answers.slice(0, -1).every((e) => e === "EINVAL")).toBe(true);
      const s = (await sysGetProcesses(client.sys)).sched;
      expect(s.policy).toBe("round-robin");
      expect(s.policy_suspended_ms).toBeGreaterThan(0);
      await waitUntil(() => (events.some((e) => /policy: the kernel's own round robin/.test(e.detail ?? "")) ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        what: "the fallback event",
      });
      // A new sched incarnation is asked at once (the hog's quanta run out every 50 ms).
      ts.sys.kill("sched", "SIGKILL");
      await waitUntil(
        async () => {
          const now = await sysGetProcesses(client.sys);
          return now.sched.policy === "server" && now.sched.policy_suspended_ms === undefined ? true : undefined;
        },
        { clock: systemClock, deadlineMs: 20_000, what: "a new sched's policy in force" },
      );
    } finally {
      await follower.stop();
      await hostile.stop();
    }
  }, 60_000);

  it("sched - mkctl nice names what is wrong: an unknown label, kernel-core, a value out of range", () => {
    const unknown = runMkctl(ts, "nice", "nosuch", "3");
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toMatch(/no service or program "nosuch"/);
    const kernel = runMkctl(ts, "nice", "kernel", "3");
    expect(kernel.status).toBe(64);
    expect(kernel.stderr).toMatch(/kernel-core is not scheduled/);
    const range = runMkctl(ts, "nice", "hog1", "40");
    expect(range.status).toBe(64);
    expect(range.stderr).toMatch(/integer from -20 to 19/);
  });

  it("sched - a user program runs at Linux nice 19 in every thread; a hostile one that raises its own priority is set back, and the event stream says so", async () => {
    const hog = await program("hog1");
    await registered("hog1");
    const threadNices = () => readdirSync(`/proc/${hog.pid}/task`).map((t) => readProcStat(Number(t))?.nice);
    await waitUntil(() => (readProcStat(hog.pid!)?.nice === 19 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "hog1 at nice 19",
    });
    const nices = threadNices();
    expect(nices.length).toBeGreaterThan(1); // Node's own threads too
    expect(nices.every((n) => n === 19)).toBe(true);
    if (process.getuid?.() !== 0) {
      // Only root may raise a priority: the attack cannot even be tried.
      expect(() => setPriority(hog.pid!, -5)).toThrow();
      return;
    }
    const events: KernelEvent[] = [];
    const follower = await followEvents(client.sys, (ev) => void (ev.kind === "sched" && events.push(ev)));
    try {
      setPriority(hog.pid!, -5); // what a root program could do to itself
      await waitUntil(() => (readProcStat(hog.pid!)?.nice === 19 ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        intervalMs: 5,
        what: "hog1 set back to nice 19",
      });
      await waitUntil(() => (events.some((e) => /raised its Linux nice to -5: set back to 19/.test(e.detail ?? "")) ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        what: "the event",
      });
    } finally {
      await follower.stop();
    }
  });

  it("sched - with sched dead the kernel goes on round robin; when rs has restarted it, sched's policy is back", async () => {
    await program("hog1");
    await program("hog2");
    await registered("hog1", "hog2");
    await waitUntil(async () => ((await sysGetProcesses(client.sys)).sched.policy === "server" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "sched's policy in force",
    });
    const events: KernelEvent[] = [];
    const follower = await followEvents(client.sys, (ev) => void (ev.kind === "sched" && events.push(ev)));
    try {
      const before = (await row("sched")).endpoint;
      ts.sys.kill("sched", "SIGKILL");
      // The next quanta find no sched: round robin; rs starts a new sched, which takes over again.
      await waitUntil(() => (events.some((e) => /round robin/.test(e.detail ?? "")) ? true : undefined), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: "a round-robin event",
      });
      await waitUntil(
        async () => {
          const s = await sysGetProcesses(client.sys);
          const now = s.processes.find((p) => p.label === "sched");
          return s.sched.policy === "server" && now && now.endpoint !== before ? true : undefined;
        },
        { clock: systemClock, deadlineMs: 20_000, what: "the new sched's policy in force" },
      );
      expect(events.some((e) => /the sched server's/.test(e.detail ?? ""))).toBe(true);
    } finally {
      await follower.stop();
    }
  }, 60_000);

  it("sched - processes left stopped by a kernel-core that was SIGKILLed are continued by the next one", async () => {
    const hogs = [await program("hog1"), await program("hog2"), await program("hog3")];
    await registered("hog1", "hog2", "hog3");
    await waitUntil(() => (hogs.some((h) => procState(h.pid!) === "T") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      intervalMs: 5,
      what: "a stopped hog",
    });
    const kernelPid = ts.sys.kill("kernel", "SIGKILL");
    await waitUntil(() => (["Z", undefined].includes(procState(kernelPid)) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      intervalMs: 5,
      what: "kernel-core gone",
    });
    const frozen = hogs.filter((h) => procState(h.pid!) === "T");
    expect(frozen.length).toBeGreaterThan(0); // nothing continues them while no kernel runs
    await ts.sys.start("kernel");
    const before = hogs.map((h) => cpuMs(h.pid!));
    await waitUntil(() => (hogs.every((h, i) => cpuMs(h.pid!) - before[i] >= 50) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      intervalMs: 100,
      what: "every hog computing again",
    });
  }, 60_000);
});
