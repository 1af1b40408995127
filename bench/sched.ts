// npm run bench:sched [-- --json] [-- --seconds N --reads N] [-- --isolation] [-- --help]
// What scheduling costs and what it buys, in one run:
//   - one preemption (stop, then continue) per mechanism: signals (SIGSTOP/SIGCONT, until
//     /proc shows the process stopped and running again) and the cgroup freezer (what
//     `docker pause` uses), on a computing process;
//   - dispatch: a sendrec to a server while a CPU-bound user program holds the one mkos
//     CPU (the kernel preempts the program, the server runs, the program goes on);
//   - the trap path (kernel-sendrec) and a 4 KiB ATA read with the scheduler on and off,
//     against the raw NATS round trip of the same system;
//   - fairness: three CPU-bound programs with nice 0, -3, -6 (weights 1:2:4) for N
//     seconds; CPU time from /proc; Jain's index of share/weight;
//   - isolation: the ATA read's p99 idle, with four CPU-bound programs and the scheduler
//     on, and the same with the scheduler off; and the machine's floor: with one plain
//     computing process at Linux nice 19 beside (nothing for the scheduler to do); the
//     loads interleaved in five rounds (fewer below 2500 reads).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bdev, Common } from "#abi";
import { connectClient, createLogger, loadCredential, sysGetProcesses, sysNice, type RunningService } from "#libsys";
import { ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { readProcStat } from "../kernel-core/src/sched/process-control.ts";
import { benchSystemYaml, columns, measure, quantile } from "./measure.ts";
import { endAll, startSpin } from "./programs.ts";

const USAGE = `usage: npm run bench:sched [-- options]
  --json        {"rows":[{path, p50_us, p99_us, ratio}], "shares":{weights, measured, jain}, "isolation":{idle_p99_us, loaded_p99_us, loaded_sched_off_p99_us, floor_p99_us, idle_sched_off_p99_us, loaded_stops}}
                (--isolation: rows and isolation only)
  --seconds N   how long the three weighted programs share the CPU (default 30)
  --reads N     ATA reads per isolation load, sendrecs for dispatch, stops per mechanism (default 3000)
  --isolation   only the isolation figures (idle, floor, four programs with the scheduler on and off)
  --help        this text`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        seconds: { type: "string", default: "30" },
        isolation: { type: "boolean", default: false },
        reads: { type: "string", default: "3000" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    console.error(`bench:sched: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: string, raw: string, max: number) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`bench:sched: --${name} needs an integer from 1 to ${max}, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const seconds = int("seconds", values.seconds, 3600);
const readsN = int("reads", values.reads, 100_000);

const HOGS = ["hog1", "hog2", "hog3", "hog4"];
const WEIGHTS = [1, 2, 4];
const NICES = [0, -3, -6];
const say = (s: string) => void (values.json ? process.stderr.write(`${s}\n`) : console.log(s));

interface Row {
  path: string;
  p50_us: number;
  p99_us: number;
  ratio: number;
}
const log = createLogger("bench");
log.level = "warn";

function stats(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: +quantile(s, 0.5).toFixed(2), p99: +quantile(s, 0.99).toFixed(2) };
}

const cpuMs = (pid: number) => readProcStat(pid)?.cpuMs ?? 0;

/** Waits (spinning: these are microseconds) until pid's state is or is not T. */
function until(pid: number, stopped: boolean): void {
  const deadline = performance.now() + 2000;
  while ((readProcStat(pid)?.state === "T") !== stopped) {
    if (performance.now() > deadline) throw new Error(`pid ${pid} did not ${stopped ? "stop" : "continue"} within 2 s`);
  }
}

/** A computing child that is not an mkos process: what the mechanisms act on. */
function burner(): ChildProcess {
  return spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
}

async function signalCost(n: number): Promise<{ stop: number[]; cont: number[] }> {
  const child = burner();
  await new Promise((r) => setTimeout(r, 200));
  const stop: number[] = [];
  const cont: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      process.kill(child.pid!, "SIGSTOP");
      until(child.pid!, true);
      stop.push((performance.now() - t0) * 1000);
      t0 = performance.now();
      process.kill(child.pid!, "SIGCONT");
      until(child.pid!, false);
      cont.push((performance.now() - t0) * 1000);
    }
  } finally {
    child.kill("SIGKILL");
  }
  return { stop, cont };
}

/** The cgroup freezer (v2 cgroup.freeze, else v1 freezer.state), or why it cannot be measured. */
async function freezerCost(n: number): Promise<{ stop: number[]; cont: number[] } | string> {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers")
    ? "/sys/fs/cgroup"
    : existsSync("/sys/fs/cgroup/unified/cgroup.controllers")
      ? "/sys/fs/cgroup/unified"
      : undefined;
  const v1 =
    existsSync("/sys/fs/cgroup/freezer/freezer.state") || existsSync("/sys/fs/cgroup/freezer/tasks") ? "/sys/fs/cgroup/freezer" : undefined;
  const root = v1 ?? v2;
  if (!root) return "no cgroup freezer on this host";
  const dir = join(root, `mkos-bench-${process.pid}`);
  const child = burner();
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, "cgroup.procs"), String(child.pid));
  } catch (e) {
    child.kill("SIGKILL");
    return `cannot make a cgroup under ${root}: ${(e as Error).message}`;
  }
  const freeze = (on: boolean) =>
    v1 ? writeFileSync(join(dir, "freezer.state"), on ? "FROZEN" : "THAWED") : writeFileSync(join(dir, "cgroup.freeze"), on ? "1" : "0");
  const frozen = () =>
    v1
      ? readFileSync(join(dir, "freezer.state"), "utf8").trim() === "FROZEN"
      : /frozen 1/.test(readFileSync(join(dir, "cgroup.events"), "utf8"));
  const stop: number[] = [];
  const cont: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      freeze(true);
      while (!frozen()) {
        /* the kernel freezes each task */
      }
      stop.push((performance.now() - t0) * 1000);
      t0 = performance.now();
      freeze(false);
      while (frozen()) {
        /* thawing */
      }
      cont.push((performance.now() - t0) * 1000);
    }
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    try {
      rmdirSync(dir);
    } catch {
      // busy for a moment after the last task left
    }
  }
  return { stop, cont };
}

interface Phase {
  sys: ProcessSystem;
  client: RunningService;
  relay: ChildProcess;
  dir: string;
  programs: ChildProcess[];
}

async function boot(enabled: boolean): Promise<Phase> {
  const dir = mkdtempSync(join(tmpdir(), `mkos-bench-sched-${enabled ? "on" : "off"}-`));
  // A 100 ms quantum at nice 0 (the fair policy scales it by weight): many turns in the window.
  const hogs = HOGS.map((h) => `  ${h}:\n    calls: [getinfo]\n    sched: { quantum_ms: 100 }\n`).join("");
  const yaml =
    benchSystemYaml(true, { edit: (d) => d.addIn(["services", "bench-client", "calls"], "nice") }).replace(
      /enabled: true/,
      `enabled: ${enabled}`,
    ) + hogs;
  writeFileSync(join(dir, "system.yaml"), yaml);
  // One mkos CPU: the other core stays the machine's (kernel-core, NATS, the emulator).
  const sys = await ProcessSystem.up({
    system: join(dir, "system.yaml"),
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "warn", MK_SCHED_CPUS: "1" },
  });
  const relay = spawn(process.execPath, [join(PROJECT_ROOT, "bench", "relay-server.ts")], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, MK_CREDS: sys.credFile("kernel"), MK_LOG_LEVEL: "warn" },
  });
  const client = await connectClient("bench-client", loadCredential(sys.credFile("bench-client")), { log });
  return { sys, client, relay, dir, programs: [] };
}

async function program(ph: Phase, label: string): Promise<ChildProcess> {
  const child = await startSpin(label, ph.sys.credFile(label));
  ph.programs.push(child);
  return child;
}

const stopPrograms = (ph: Phase) => endAll(ph.programs);

async function down(ph: Phase): Promise<void> {
  await stopPrograms(ph);
  await ph.client.stop().catch(() => undefined);
  ph.relay.kill("SIGTERM");
  await ph.sys.down();
  rmSync(ph.dir, { recursive: true, force: true });
}

async function timed(n: number, op: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op();
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return out;
}

const ataRead = (ph: Phase, i: number) => ph.client.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 64 + (i % 512) * 8, count: 8 });

/**
 * The isolation samples are taken in rounds, the loads interleaved, so that the host's own
 * drift falls on all of them alike: five, or fewer for a short run (at least 500 reads a round).
 */
const ROUNDS = Math.max(1, Math.min(5, Math.floor(readsN / 500)));

/** n reads while `load` runs: "idle", "floor" (one plain computing process at Linux nice 19) or "hogs" (four CPU-bound mkos programs, all started first). */
async function readsUnder(ph: Phase, load: "idle" | "floor" | "hogs", n: number): Promise<{ samples: number[]; stops: number }> {
  let plain: ChildProcess | undefined;
  if (load === "hogs") for (const h of HOGS) await program(ph, h);
  if (load === "floor") {
    plain = burner();
    setPriority(plain.pid!, 19);
  }
  try {
    if (load !== "idle") await new Promise((r) => setTimeout(r, 1000));
    let i = 0;
    await timed(50, () => ataRead(ph, i++));
    const before = (await sysGetProcesses(ph.client.sys)).sched;
    const samples = await timed(n, () => ataRead(ph, i++));
    const after = (await sysGetProcesses(ph.client.sys)).sched;
    return { samples, stops: after.stops - before.stops };
  } finally {
    plain?.kill("SIGKILL");
    await stopPrograms(ph);
  }
}

/** readsN reads under each load, in ROUNDS interleaved rounds. */
async function isolationRounds<L extends "idle" | "floor" | "hogs">(
  ph: Phase,
  loads: L[],
): Promise<Record<L, { samples: number[]; stops: number }>> {
  const out = Object.fromEntries(loads.map((l) => [l, { samples: [] as number[], stops: 0 }])) as Record<
    L,
    { samples: number[]; stops: number }
  >;
  const per = Math.ceil(readsN / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const l of loads) {
      const got = await readsUnder(ph, l, per);
      out[l].samples.push(...got.samples);
      out[l].stops += got.stops;
    }
  }
  return out;
}

/** What one preemption costs per mechanism, and a server's dispatch while a program holds the CPU. */
async function costs(on: Phase, add: (path: string, samples: number[], base: number) => void, baseOn: number): Promise<void> {
  const sig = await signalCost(Math.min(300, readsN));
  add("preempt: SIGSTOP until T in /proc", sig.stop, baseOn);
  add("preempt: SIGCONT until running", sig.cont, baseOn);
  const fr = await freezerCost(Math.min(300, readsN));
  if (typeof fr === "string") say(`cgroup freezer not measured: ${fr}`);
  else {
    add("preempt: cgroup freeze until frozen", fr.stop, baseOn);
    add("preempt: cgroup thaw until thawed", fr.cont, baseOn);
  }

  // Dispatch: bench-echo (a server, queue 4) while a user program (queue 7) holds the CPU.
  await program(on, "hog1");
  await new Promise((r) => setTimeout(r, 500));
  const before = (await sysGetProcesses(on.client.sys)).sched;
  add(
    "dispatch: sendrec to a server, a hog on the CPU",
    await timed(readsN, () => on.client.sys.sendrec("bench-echo", Common.COMMON_PING, {})),
    baseOn,
  );
  const after = (await sysGetProcesses(on.client.sys)).sched;
  say(`dispatch: ${after.stops - before.stops} stops and ${after.continues - before.continues} continues for ${readsN} sendrecs`);
  await stopPrograms(on);
}

type Shares = { weights: number[]; measured: number[]; jain: number; cpu_ms: number[] };

/** Three CPU-bound programs with weights 1:2:4 share the one mkos CPU for `seconds`. */
async function fairness(on: Phase): Promise<Shares> {
  say(`fairness: three programs, nice ${NICES.join(", ")}, for ${seconds} s ...`);
  for (let i = 0; i < 3; i++) await sysNice(on.client.sys, HOGS[i], NICES[i]);
  const ps = [];
  for (let i = 0; i < 3; i++) ps.push(await program(on, HOGS[i]));
  await new Promise((r) => setTimeout(r, 1500));
  const c0 = ps.map((p) => cpuMs(p.pid!));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = ps.map((p, i) => cpuMs(p.pid!) - c0[i]);
  await stopPrograms(on);
  const total = used.reduce((s, x) => s + x, 0);
  const measured = used.map((u) => +(u / total).toFixed(4));
  const x = measured.map((s, i) => s / WEIGHTS[i]);
  const jain = +(x.reduce((s, v) => s + v, 0) ** 2 / (x.length * x.reduce((s, v) => s + v * v, 0))).toFixed(4);
  return { weights: WEIGHTS, measured, jain, cpu_ms: used };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const add = (path: string, samples: number[], base: number) => {
    const s = stats(samples);
    rows.push({ path, p50_us: s.p50, p99_us: s.p99, ratio: +(s.p50 / base).toFixed(3) });
  };

  say("scheduler on (MK_SCHED_CPUS=1, the fair policy) ...");
  const on = await boot(true);
  let baseOn: number;
  let idleReads: number[];
  let floorReads: number[];
  let loadedOn: number[];
  let stopsOn: number;
  let shares: Shares | undefined;
  try {
    const m = await measure({
      client: on.client.sys,
      rawCred: loadCredential(on.sys.credFile("kernel")),
      systemYaml: readFileSync(join(on.dir, "system.yaml"), "utf8"),
      rounds: 5,
      batch: Math.min(200, readsN),
      only: values.isolation ? ["ata-read-4k"] : ["kernel-sendrec", "ata-read-4k"],
    });
    baseOn = m.find((r) => r.path === "nats-raw")!.p50_us;
    for (const r of m)
      rows.push({
        path: r.path === "nats-raw" ? "nats-raw (sched on)" : `${r.path} (sched on)`,
        p50_us: r.p50_us,
        p99_us: r.p99_us,
        ratio: r.ratio_p50,
      });
    if (!values.isolation) await costs(on, add, baseOn);

    say(
      `isolation: ATA reads idle, beside one plain process at nice 19 (the machine's floor: no mkos process, nothing for the scheduler to do) and under four CPU-bound programs, ${ROUNDS} round${ROUNDS > 1 ? "s" : ""} ...`,
    );
    const iso = await isolationRounds(on, ["idle", "floor", "hogs"]);
    idleReads = iso.idle.samples;
    floorReads = iso.floor.samples;
    loadedOn = iso.hogs.samples;
    stopsOn = iso.hogs.stops;
    add("ata-read-4k idle", idleReads, baseOn);
    add("ata-read-4k, one plain process at nice 19 (floor)", floorReads, baseOn);
    add("ata-read-4k, 4 hogs, sched on", loadedOn, baseOn);
    if (!values.isolation) shares = await fairness(on);
  } finally {
    await down(on);
  }

  say("scheduler off ...");
  const off = await boot(false);
  let loadedOff: number[];
  let idleOff: number[];
  try {
    const m = await measure({
      client: off.client.sys,
      rawCred: loadCredential(off.sys.credFile("kernel")),
      systemYaml: readFileSync(join(off.dir, "system.yaml"), "utf8"),
      rounds: 5,
      batch: Math.min(200, readsN),
      only: values.isolation ? ["ata-read-4k"] : ["kernel-sendrec", "ata-read-4k"],
    });
    for (const r of m)
      rows.push({
        path: r.path === "nats-raw" ? "nats-raw (sched off)" : `${r.path} (sched off)`,
        p50_us: r.p50_us,
        p99_us: r.p99_us,
        ratio: r.ratio_p50,
      });
    const iso = await isolationRounds(off, ["idle", "hogs"]);
    idleOff = iso.idle.samples;
    loadedOff = iso.hogs.samples;
    const baseOff = m.find((r) => r.path === "nats-raw")!.p50_us;
    add("ata-read-4k idle, sched off", idleOff, baseOff);
    add("ata-read-4k, 4 hogs, sched off", loadedOff, baseOff);
  } finally {
    await down(off);
  }

  const isolation = {
    idle_p99_us: stats(idleReads).p99,
    loaded_p99_us: stats(loadedOn).p99,
    loaded_sched_off_p99_us: stats(loadedOff).p99,
    floor_p99_us: stats(floorReads).p99,
    idle_sched_off_p99_us: stats(idleOff).p99,
    loaded_stops: stopsOn,
  };
  if (values.json) {
    console.log(JSON.stringify({ rows, shares, isolation }));
    return;
  }
  console.log("\nbench:sched (ratio: p50 over the raw NATS round trip of the same system)");
  console.log(
    columns(
      ["path", "p50 us", "p99 us", "ratio"],
      rows.map((r) => [r.path, r.p50_us.toFixed(1), r.p99_us.toFixed(1), `${r.ratio.toFixed(2)}x`]),
    ).join("\n"),
  );
  if (shares)
    console.log(
      `\nshares over ${seconds} s, weights ${WEIGHTS.join(":")}: measured ${shares.measured.map((s) => s.toFixed(3)).join(" : ")} (want ${WEIGHTS.map((w) => (w / 7).toFixed(3)).join(" : ")}), Jain's index ${shares.jain}, CPU ms ${shares.cpu_ms.join(", ")}`,
    );
  const x = (v: number, idle = isolation.idle_p99_us) => `${v} us (${(v / idle).toFixed(2)}x idle)`;
  console.log(
    `isolation, ATA 4 KiB read p99 (${readsN} reads each, ${ROUNDS} interleaved round${ROUNDS > 1 ? "s" : ""}): idle ${isolation.idle_p99_us} us; the floor, one plain process at nice 19 beside, ${x(isolation.floor_p99_us)}; 4 hogs with the scheduler ${x(isolation.loaded_p99_us)} (${isolation.loaded_stops} stops); without it ${x(isolation.loaded_sched_off_p99_us)}, or ${(isolation.loaded_sched_off_p99_us / isolation.idle_sched_off_p99_us).toFixed(2)}x the idle of its own system (${isolation.idle_sched_off_p99_us} us)`,
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:sched: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
