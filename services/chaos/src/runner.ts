// The chaos runner: boots a fresh process-mode mkos as the experiment describes (or uses
// one already running), checks the steady-state hypothesis, starts the verifying
// workload, injects the method's faults, waits for the system to heal, checks the
// hypothesis again, runs the rollbacks and writes a journal with the report: faults by
// kind, detections and how, recoveries, time to detect and to serve again, user
// operations attempted and failed, bytes verified, kernel restarts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Cdev,
  Common,
  EMPTY,
  Fs,
  MkError,
  parseShape,
  RecoveryShape,
  Rs,
  WORKLOAD_MAX_PAUSE_MS,
  WORKLOAD_SETTLE_MAX_MS,
  Workload as WorkloadMsg,
  type RecoveryRecord,
  type ServiceStatus,
} from "#abi";
import {
  BdevClient,
  connectClient,
  FsClient,
  createLogger,
  followEvents,
  loadCredential,
  sysHwfault,
  systemClock,
  waitUntil,
  type Credential,
  type RunningService,
  type SystemTable,
} from "#libsys";
import { LocalError } from "#base/errors.ts";
import { StopWaiting } from "#base/wait.ts";
import { DEMO_SERVICES, deriveSystemYaml } from "#boot";
import { pidAlive, ProcessSystem, PROJECT_ROOT } from "#boot";
import { FATAL, HARDWARE_FAULTS, type Experiment, type FaultAction, type ProbeName } from "./experiment.ts";
import { FileWorkload, Workload, type WorkloadStats } from "#workload";

export interface Pct {
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface Report {
  faults_injected: number;
  faults_by_kind: Record<string, number>;
  faults_by_target: Record<string, number>;
  detections: number;
  detections_by_how: Record<string, number>;
  /** Each workload's own operations and verified bytes (the totals above add them). */
  by_workload: Record<string, { ops_attempted: number; ops_failed: number; bytes_verified: number; bytes_wrong: number }>;
  /** label -> how its deaths were found ("exit", "heartbeat", "start-timeout"...) -> count. */
  detections_by_target: Record<string, Record<string, number>>;
  recoveries: number;
  detect_ms: Pct;
  recover_ms: Pct;
  /** Hangs rs found later than two heartbeat periods (plus its quarter-period tick) after the last answer. */
  hangs_detected_late: number;
  ops_attempted: number;
  ops_failed: number;
  ops_retried: number;
  corrupt_replies_caught: number;
  bytes_written: number;
  bytes_verified: number;
  bytes_wrong: number;
  kernel_restarts: number;
  kernel_uptime_ms: number | null;
  /** The emulator's process changed during the run (it must not: no fault aims at it). */
  hardware_restarts: number;
  /** kernel-core died and nothing brought it back: the monolithic outcome. */
  system_down: boolean;
  hardware_faults_observed: string[];
  errors: string[];
}

export interface ProbeResult {
  name: string;
  probe: ProbeName;
  tolerance: boolean;
  value: boolean;
  within: boolean;
  detail?: string;
}

export interface Journal {
  title: string;
  experiment: string;
  seed: number;
  status: "completed" | "deviated" | "aborted";
  deviated: boolean;
  start: string;
  end: string;
  duration_ms: number;
  steady_state: { before: ProbeResult[]; after: ProbeResult[] | null };
  run: { name: string; fault?: string; target?: string; at: string; generation?: number; note?: string }[];
  rollbacks: { name: string; fault: string; target: string; at: string; note?: string }[];
  report: Report;
}

/** What the runner needs of a running mkos: process mode (ProcessSystem) or compose (compose-target.ts). */
export interface ChaosTarget {
  readonly table: SystemTable;
  /** kernel-core answers (its /readyz, or its statistics for a target inside the system). */
  kernelReady(): Promise<boolean>;
  /** When the live kernel-core started (epoch ms), if known. */
  kernelStartedAt(): Promise<number | null>;
  /** The credential of label (the runner's own is `chaos`, unless RunOptions.client is given). */
  credential(label: string): Credential;
  /** SIGKILL or SIGSTOP to a service's own process. */
  signal(label: string, signal: NodeJS.Signals): void;
  /** Names the current process of kernel-core or the emulator: it changes when one restarts. */
  incarnation(part: "kernel" | "hardware"): string | undefined;
  alive(part: "kernel" | "hardware"): boolean;
  /** kernel-core SIGKILLed and started again (the restart fault); resolves once the new one answers. */
  restartKernel(): Promise<void>;
  /** Placements and restart policies come from the experiment only when the runner boots the system. */
  readonly booted: boolean;
}

/** A process-mode system as a chaos target. */
export function processTarget(sys: ProcessSystem, booted = false): ChaosTarget {
  return {
    table: sys.table,
    ...kernelOverHttp(sys.state.kernelHttp),
    booted,
    credential: (label) => loadCredential(sys.credFile(label)),
    signal: (label, signal) => void sys.kill(label, signal),
    incarnation: (part) => (sys.pidOf(part) === undefined ? undefined : String(sys.pidOf(part))),
    alive: (part) => sys.alive()[part] === true,
    async restartKernel() {
      const pid = sys.kill("kernel", "SIGKILL");
      await waitUntil(() => (pidAlive(pid) ? undefined : true), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: `kernel-core (pid ${pid}) gone`,
      });
      await sys.start("kernel");
    },
  };
}

/** kernel-core's readiness and start time from its HTTP face (/readyz, /metrics). */
export function kernelOverHttp(base: string): Pick<ChaosTarget, "kernelReady" | "kernelStartedAt"> {
  return {
    kernelReady: () =>
      fetch(`${base}/readyz`).then(
        (x) => x.ok,
        () => false,
      ),
    async kernelStartedAt() {
      const text = await fetch(`${base}/metrics`).then(
        (x) => x.text(),
        () => "",
      );
      const m = /process_start_time_seconds (\d+(?:\.\d+)?)/.exec(text);
      return m ? Math.round(Number(m[1]) * 1000) : null;
    },
  };
}

export interface RunOptions {
  /** A running process-mode system to use; otherwise one is booted for the run and stopped after. */
  attach?: ProcessSystem;
  /** Any other running system (compose). */
  target?: ChaosTarget;
  log?: (line: string) => void;
  /** Run as this connection (the dashboard's own) instead of connecting as chaos; it is left open. */
  client?: RunningService;
}

/** RS_RECOVERIES's body: a JSON array, each entry checked against the ABI's shape. */
export function recoveriesOf(data: Uint8Array): RecoveryRecord[] {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new MkError("EBADREQUEST", "rs's recoveries are not JSON");
  }
  if (!Array.isArray(raw) || raw.length > 1024) throw new MkError("EBADREQUEST", "rs's recoveries are not a list of at most 1024");
  return raw.map((x) => parseShape(RecoveryShape.fields, x) as RecoveryRecord);
}

/** mulberry32: a small seeded generator, so a run's choices repeat. */
/** The block and the file workloads' stats together. */
function addStats(a: WorkloadStats | undefined, b: WorkloadStats | undefined): WorkloadStats | undefined {
  if (!a || !b) return a ?? b;
  const sum = { ...a, errors: [...a.errors, ...b.errors].slice(0, 20) };
  for (const k of [
    "ops_attempted",
    "ops_failed",
    "ops_unfinished",
    "ops_retried",
    "corrupt_replies",
    "bytes_written",
    "bytes_verified",
    "bytes_wrong",
  ] as const)
    sum[k] = a[k] + b[k];
  return sum;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function percentiles(xs: number[]): Pct {
  if (xs.length === 0) return { p50: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(s[s.length - 1]) };
}

/** The privilege table for a run: the shipped one with the experiment's placements and restart policies. */
export function experimentSystemYaml(exp: Experiment): string {
  return deriveSystemYaml(readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8"), {
    httpPort: 0,
    sectors: 32768,
    placement: exp.system.placement,
    restart: exp.system.restart,
    unstarted: DEMO_SERVICES,
  });
}

/** The demo workload's label (services/workload), paused while an experiment runs on a running system. */
const DEMO_WORKLOAD = "workload";

/** WORKLOAD_PAUSE for ms (0 ends this runner's pause); undefined once taken, else why not (not running, not this client's to ask, no answer). */
async function pauseDemo(c: RunningService, ms: number): Promise<string | undefined> {
  try {
    // Its answer waits for the operation under way, at most WORKLOAD_SETTLE_MAX_MS.
    await c.sys.sendrec(DEMO_WORKLOAD, WorkloadMsg.WORKLOAD_PAUSE, { ms }, undefined, WORKLOAD_SETTLE_MAX_MS + 15_000);
    return undefined;
  } catch (e) {
    return `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message}`.trim();
  }
}

export async function runExperiment(exp: Experiment, o: RunOptions = {}): Promise<Journal> {
  const say = o.log ?? (() => undefined);
  const started = Date.now();
  const random = rng(exp.seed);
  const dir = o.attach || o.target ? undefined : mkdtempSync(join(tmpdir(), "mkos-chaos-"));
  let booted: ProcessSystem | undefined;
  let sys: ChaosTarget;
  if (o.target) sys = o.target;
  else if (o.attach) sys = processTarget(o.attach);
  else {
    writeFileSync(join(dir!, "system.yaml"), experimentSystemYaml(exp));
    say(
      `booting mkos for "${exp.title}" (${
        Object.entries(exp.system.placement)
          .map(([l, p]) => `${l}: ${p}`)
          .join(", ") || "shipped placements"
      })`,
    );
    // MK_CHAOS_LOG_LEVEL (debug: every message) for a post-mortem with MK_CHAOS_KEEP=1.
    booted = await ProcessSystem.up({
      system: join(dir!, "system.yaml"),
      runDir: join(dir!, "run"),
      disk: join(dir!, "disk.img"),
      env: { MK_LOG_LEVEL: process.env.MK_CHAOS_LOG_LEVEL ?? "warn" },
    });
    sys = processTarget(booted, true);
  }
  if (!sys.booted && (Object.keys(exp.system.placement).length || Object.keys(exp.system.restart).length)) {
    say("the experiment's system section applies only when the runner boots the system: ignored here");
  }
  const log = createLogger("chaos");
  log.level = "error";
  let client: RunningService | undefined;
  const journal: Journal = {
    title: exp.title,
    experiment: exp.file,
    seed: exp.seed,
    status: "completed",
    deviated: false,
    start: new Date(started).toISOString(),
    end: "",
    duration_ms: 0,
    steady_state: { before: [], after: null },
    run: [],
    rollbacks: [],
    report: {
      faults_injected: 0,
      faults_by_kind: {},
      faults_by_target: {},
      detections: 0,
      detections_by_how: {},
      detections_by_target: {},
      by_workload: {},
      recoveries: 0,
      detect_ms: percentiles([]),
      recover_ms: percentiles([]),
      hangs_detected_late: 0,
      ops_attempted: 0,
      ops_failed: 0,
      ops_retried: 0,
      corrupt_replies_caught: 0,
      bytes_written: 0,
      bytes_verified: 0,
      bytes_wrong: 0,
      kernel_restarts: 0,
      kernel_uptime_ms: null,
      hardware_restarts: 0,
      system_down: false,
      hardware_faults_observed: [],
      errors: [],
    },
  };
  const r = journal.report;
  /** kernel-core's process: a restart the method asked for is not a deviation, so it moves with it. */
  let kernelPid = sys.incarnation("kernel");
  const hardwarePid = sys.incarnation("hardware");
  const kernelBoots = new Set<string>();
  let workload: Workload | undefined;
  let files: FileWorkload | undefined;
  let stats: WorkloadStats | undefined;
  let fileStats: WorkloadStats | undefined;
  let demoPaused = false;
  try {
    client = o.client ?? (await connectClient("chaos", sys.credential("chaos"), { log }));
    const c = client;
    await followEvents(c.sys, (ev) => void kernelBoots.add(ev.boot));
    // A running system's demo workload (compose, mkctl up --demo) pauses for the run: the
    // experiment runs its own verifying workloads, and its fsck probe needs no file open.
    // The pause is answered once the workload's operation under way has finished, and
    // expires by itself should the runner die; it is asked again before the closing probes
    // (a run longer than the pause, or a workload restarted meanwhile) and ended with the run.
    if (!sys.booted && sys.table.services.has(DEMO_WORKLOAD)) {
      demoPaused = true; // ended at the end even if its answer was lost: the pause may have taken
      const why = await pauseDemo(c, WORKLOAD_MAX_PAUSE_MS);
      say(why === undefined ? "the demo workload is paused for the run" : `the demo workload did not take the pause (${why}): going on`);
    }
    const kernelAlive = () => kernelPid !== undefined && sys.alive("kernel");
    const rsCall = async (type: number, args: Record<string, unknown>) =>
      (await c.sys.sendrec("rs", type, args, undefined, 10_000)).args as Record<string, unknown>;
    const services = async () => (await rsCall(Rs.RS_LIST, {})).services as ServiceStatus[];
    const placementOf = (label: string) =>
      (sys.booted ? exp.system.placement[label] : undefined) ?? sys.table.services.get(label)?.placement ?? "user";
    const heartbeatOf = (label: string) => sys.table.services.get(label)?.restart.heartbeatMs ?? 1000;

    const probe = async (p: { name: string; probe: ProbeName; tolerance: boolean }): Promise<ProbeResult> => {
      let value = false;
      let detail: string | undefined;
      try {
        switch (p.probe) {
          case "kernel-up": {
            const ok = kernelAlive() && (await sys.kernelReady());
            value = ok && sys.incarnation("kernel") === kernelPid;
            if (!value) detail = kernelAlive() ? "kernel-core not ready" : "kernel-core is not running";
            break;
          }
          case "services-running": {
            const rows = await services();
            const down = rows.filter((s) => s.state !== "running" && placementOf(s.label) === "user");
            value = down.length === 0;
            if (!value) detail = down.map((s) => `${s.label} ${s.state}${s.last_cause ? ` (${s.last_cause})` : ""}`).join(", ");
            break;
          }
          case "disk-verifies": {
            const disk = new BdevClient(c.sys, "ata", { waitMs: 10_000, timeoutMs: 5000 });
            const data = new Uint8Array(4096).map((_, i) => (i * 7 + exp.seed) & 0xff);
            await disk.write(64, data);
            value = Buffer.compare(Buffer.from(await disk.read(64, 8)), Buffer.from(data)) === 0;
            break;
          }
          case "files-verify": {
            const fs = new FsClient(c.sys, { waitMs: 10_000, timeoutMs: 5000 });
            const data = new Uint8Array(5000).map((_, i) => (i * 13 + exp.seed) & 0xff);
            await fs.writeFile("/chaos-probe", data);
            value = Buffer.compare(await fs.readFile("/chaos-probe"), Buffer.from(data)) === 0;
            await fs.unlink("/chaos-probe");
            break;
          }
          case "fsck-clean": {
            // mfs's own check of the whole disk (no file may be open: after the workload).
            const rep = await c.sys.sendrec("mfs", Fs.FS_FSCK, { repair: 0 }, EMPTY, 120_000);
            value = (rep.args as { clean?: number }).clean === 1;
            if (!value)
              detail = `${(rep.args as { problems?: number }).problems} problem(s): ${new TextDecoder().decode(rep.data).slice(0, 300)}`;
            break;
          }
          case "tty-writes": {
            const rep = await c.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new TextEncoder().encode("chaos probe\n"), 5000);
            value = (rep.args as { count?: number }).count === 12;
            break;
          }
        }
      } catch (e) {
        detail = `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message}`.trim();
      }
      return { ...p, value, within: value === p.tolerance, ...(detail ? { detail } : {}) };
    };
    const hypothesis = async () => {
      const results: ProbeResult[] = [];
      for (const p of exp.hypothesis.probes) results.push(await probe(p));
      return results;
    };
    /** The generation each target last received a fatal fault in: the next waits for a newer one. */
    const faulted = new Map<string, number>();
    /** When the runner first saw each target's current incarnation serving. */
    const servingSeen = new Map<string, { generation: number; at: number }>();
    /**
     * Until label serves with a generation newer than its last fatal fault's, and, with an
     * action's serving_ms, has served that long: a storm that hangs each server the moment
     * it is back (the soak's hangs, 300 ms apart over three targets) leaves no window in
     * which any operation could finish.
     */
    const untilServing = async (label: string, minServing = 0, ms = 30_000) => {
      if (placementOf(label) === "kernel") return;
      const after = faulted.get(label) ?? 0;
      await waitUntil(
        async () => {
          if (!kernelAlive()) throw new StopWaiting(new LocalError("MK_ERR_KERNEL_UNREACHABLE", "kernel-core is down"));
          const row = (await services().catch(() => [])).find((s) => s.label === label);
          // rs gave up on it (past its intensity): it will not serve again by itself.
          if (row?.state === "failed")
            throw new StopWaiting(new LocalError("MK_ERR_PART_EXITED", `${label} failed: ${row.last_cause ?? "rs gave up"}`));
          const generation = row?.generation ?? 0;
          if (row?.state !== "running" || generation <= after) return undefined;
          const seen = servingSeen.get(label);
          if (seen?.generation !== generation) servingSeen.set(label, { generation, at: Date.now() });
          return Date.now() - servingSeen.get(label)!.at >= minServing ? true : undefined;
        },
        { clock: systemClock, deadlineMs: ms, intervalMs: 25, what: `${label} serving after generation ${after}` },
      );
    };

    journal.steady_state.before = await hypothesis();
    if (journal.steady_state.before.some((p) => !p.within)) {
      journal.status = "aborted";
      journal.deviated = true;
      say(
        `steady state does not hold before the method: ${journal.steady_state.before
          .filter((p) => !p.within)
          .map((p) => `${p.name}: ${p.detail ?? p.value}`)
          .join("; ")}`,
      );
      return journal;
    }
    if (exp.workload) {
      workload = new Workload(c.sys, { ...exp.workload, seed: exp.seed });
      await workload.start();
    }
    if (exp.files) {
      files = new FileWorkload(c.sys, { ...exp.files, seed: exp.seed });
      await files.start();
    }

    const inject = async (a: FaultAction, rec: (e: Journal["run"][number]) => void) => {
      const target = a.targets[Math.floor(random() * a.targets.length)];
      const at = new Date().toISOString();
      const inKernel = placementOf(target) === "kernel";
      // Each fault hits a serving incarnation, and a fatal one a new one (never the same process twice).
      if (!HARDWARE_FAULTS.includes(a.fault) && a.fault !== "clear" && a.fault !== "restart") await untilServing(target, a.servingMs ?? 0);
      const gen = (await services().catch(() => [])).find((s) => s.label === target)?.generation;
      if (FATAL.includes(a.fault) && gen) faulted.set(target, gen);
      let note: string | undefined;
      switch (a.fault) {
        case "kill":
        case "hang":
          if (inKernel) {
            // An in-kernel service has no process of its own: the fault becomes a crash inside kernel-core.
            await c.sys.sendrec(target, Common.COMMON_FAULT, { fault: "crash" }, EMPTY, 5000);
            await c.sys.sendrec(target, Common.COMMON_PING, {}, EMPTY, 5000).catch(() => undefined);
            note = "in kernel placement: crashed inside kernel-core";
          } else {
            sys.signal(target, a.fault === "kill" ? "SIGKILL" : "SIGSTOP");
          }
          break;
        case "crash":
          await c.sys.sendrec(target, Common.COMMON_FAULT, { fault: "crash" }, EMPTY, 5000);
          // The next request it handles throws: send one (an idle server would otherwise never crash).
          await c.sys.sendrec(target, Common.COMMON_PING, {}, EMPTY, 5000).catch(() => undefined);
          break;
        case "slow":
          await c.sys.sendrec(target, Common.COMMON_FAULT, { fault: "slow", ms: a.ms ?? 200, count: a.n ?? 5 }, EMPTY, 5000);
          break;
        case "block":
          // Busy for longer than two heartbeats: rs must find the hang and replace it.
          await c.sys.sendrec(
            target,
            Common.COMMON_FAULT,
            { fault: "block", ms: a.ms ?? Math.min(60_000, 4 * heartbeatOf(target) + 1000) },
            EMPTY,
            5000,
          );
          break;
        case "corrupt":
          await c.sys.sendrec(target, Common.COMMON_FAULT, { fault: "corrupt", count: a.n ?? 3 }, EMPTY, 5000);
          break;
        case "clear":
          await c.sys.sendrec(target, Common.COMMON_FAULT, { fault: "clear" }, EMPTY, 5000).catch(() => undefined);
          await sysHwfault(c.sys, { fault: "clear" });
          break;
        case "restart": {
          // What an operator does with mkctl kill kernel; mkctl start kernel: every service,
          // rs and the workloads' clients register again with the new kernel by themselves.
          const t0 = Date.now();
          await sys.restartKernel();
          kernelPid = sys.incarnation("kernel");
          note = `kernel-core answering again ${Date.now() - t0} ms after its SIGKILL`;
          break;
        }
        default: {
          // Hardware faults, through the privileged kernel call.
          const irq = target === "tty" ? 4 : 14;
          if (a.fault === "bad-sector") {
            const lba = 1024 + Math.floor(random() * 1024);
            await sysHwfault(c.sys, { fault: "bad-sector", lba, count: a.n ?? 1 });
            // The driver reports EIO for that block and only that block.
            const disk = new BdevClient(c.sys, "ata", { waitMs: 10_000, timeoutMs: 10_000 });
            const bad = await disk.read(lba, 1).then(
              () => "read",
              (e: { errno?: string }) => e.errno ?? "error",
            );
            const good = await disk.read(lba + (a.n ?? 1), 1).then(
              () => "read",
              (e: { errno?: string }) => e.errno ?? "error",
            );
            note = `lba ${lba}: ${bad}; lba ${lba + (a.n ?? 1)}: ${good}`;
            r.hardware_faults_observed.push(`bad-sector ${note}`);
            await sysHwfault(c.sys, { fault: "clear" });
          } else if (a.fault === "stuck-bsy") {
            await sysHwfault(c.sys, { fault: "stuck-bsy", ms: a.ms ?? 500 });
          } else {
            await sysHwfault(c.sys, { fault: a.fault as "lost-irq" | "spurious-irq", irq, count: a.n ?? 3 });
          }
        }
      }
      r.faults_injected++;
      r.faults_by_kind[a.fault] = (r.faults_by_kind[a.fault] ?? 0) + 1;
      r.faults_by_target[target] = (r.faults_by_target[target] ?? 0) + 1;
      rec({ name: a.name, fault: a.fault, target, at, ...(gen ? { generation: gen } : {}), ...(note ? { note } : {}) });
      if (inKernel && FATAL.includes(a.fault)) {
        // The monolithic blue screen: wait to see kernel-core go.
        await waitUntil(() => (kernelAlive() ? undefined : true), {
          clock: systemClock,
          deadlineMs: 10_000,
          what: "kernel-core to die",
        }).catch(() => undefined);
      }
    };

    for (const step of exp.method) {
      if (!kernelAlive()) break;
      if (step.type === "pause") {
        journal.run.push({ name: step.name, at: new Date().toISOString() });
        await systemClock.sleep(step.durationMs);
        continue;
      }
      say(
        `${step.name}: ${step.durationMs !== undefined ? `for ${step.durationMs} ms` : `${step.count} ×`} ${step.fault} on ${step.targets.join(", ")}`,
      );
      const until = step.durationMs !== undefined ? Date.now() + step.durationMs : Infinity;
      for (let i = 0; i < step.count && kernelAlive() && Date.now() < until; i++) {
        try {
          await inject(step, (e) => journal.run.push(e));
        } catch (e) {
          if (r.errors.length < 20) r.errors.push(`${step.name}: ${(e as Error).message}`);
          if (!kernelAlive()) break;
        }
        if (step.intervalMs > 0) await systemClock.sleep(step.intervalMs);
      }
    }

    r.system_down = !kernelAlive();
    if (!r.system_down) {
      // Healing: every service serving again.
      for (const label of new Set(exp.method.flatMap((s) => (s.type === "action" && s.fault !== "restart" ? s.targets : [])))) {
        await untilServing(label, 0, 60_000).catch((e: Error) => void (r.errors.length < 20 && r.errors.push(e.message)));
      }
    }
    // With the kernel gone nothing answers: the workloads' requests fail at their deadline.
    const stopped = async (w: { stop(): Promise<WorkloadStats>; snapshot(): WorkloadStats }) =>
      r.system_down ? await Promise.race([w.stop(), systemClock.sleep(5_000).then(() => w.snapshot())]) : await w.stop();
    if (workload) stats = await stopped(workload);
    if (files) fileStats = await stopped(files);
    if (demoPaused && !r.system_down) await pauseDemo(c, WORKLOAD_MAX_PAUSE_MS);
    journal.steady_state.after = await hypothesis();
    for (const a of exp.rollbacks) {
      if (r.system_down) break;
      for (const t of a.targets) {
        await inject({ ...a, targets: [t], count: 1 }, (e) =>
          journal.rollbacks.push({ name: a.name, fault: a.fault, target: t, at: e.at, ...(e.note ? { note: e.note } : {}) }),
        ).catch((e: Error) => {
          journal.rollbacks.push({ name: a.name, fault: a.fault, target: t, at: new Date().toISOString(), note: `failed: ${e.message}` });
        });
      }
      r.faults_injected -= a.targets.length; // rollbacks are not faults
      r.faults_by_kind[a.fault] = (r.faults_by_kind[a.fault] ?? a.targets.length) - a.targets.length;
      if (r.faults_by_kind[a.fault] <= 0) delete r.faults_by_kind[a.fault];
      for (const t of a.targets) {
        r.faults_by_target[t]--;
        if (r.faults_by_target[t] <= 0) delete r.faults_by_target[t];
      }
    }
    if (!r.system_down) {
      const reply = await c.sys.sendrec("rs", Rs.RS_RECOVERIES, { since: started }, undefined, 10_000);
      const recs = recoveriesOf(reply.data);
      r.detections = recs.length;
      for (const x of recs) {
        r.detections_by_how[x.how] = (r.detections_by_how[x.how] ?? 0) + 1;
        const t = (r.detections_by_target[x.label] ??= {});
        t[x.how] = (t[x.how] ?? 0) + 1;
      }
      r.recoveries = recs.length;
      r.detect_ms = percentiles(recs.map((x) => x.detectMs));
      r.recover_ms = percentiles(recs.map((x) => x.recoverMs));
      r.hangs_detected_late = recs.filter((x) => x.how === "heartbeat" && x.detectMs > 2.25 * heartbeatOf(x.label) + 100).length;
      const startedAt = await sys.kernelStartedAt();
      r.kernel_uptime_ms = startedAt === null ? null : Date.now() - startedAt;
    }
    r.kernel_restarts = Math.max(0, kernelBoots.size - 1) + (sys.incarnation("kernel") !== kernelPid ? 1 : 0);
    r.hardware_restarts = sys.incarnation("hardware") !== hardwarePid || !sys.alive("hardware") ? 1 : 0;
  } catch (e) {
    journal.status = "aborted";
    r.errors.push((e as Error).message);
  } finally {
    if (workload && !stats) stats = workload.snapshot();
    if (files && !fileStats) fileStats = files.snapshot();
    const own = (w: WorkloadStats) => ({
      ops_attempted: w.ops_attempted,
      ops_failed: w.ops_failed + w.ops_unfinished,
      bytes_verified: w.bytes_verified,
      bytes_wrong: w.bytes_wrong,
    });
    if (stats) r.by_workload.block = own(stats);
    if (fileStats) r.by_workload.files = own(fileStats);
    stats = addStats(stats, fileStats);
    if (stats) {
      Object.assign(r, {
        ops_attempted: stats.ops_attempted,
        ops_failed: stats.ops_failed + stats.ops_unfinished,
        ops_retried: stats.ops_retried,
        corrupt_replies_caught: stats.corrupt_replies,
        bytes_written: stats.bytes_written,
        bytes_verified: stats.bytes_verified,
        bytes_wrong: stats.bytes_wrong,
      });
      r.errors.push(...stats.errors.slice(0, 20 - r.errors.length));
    }
    if (demoPaused && client) await pauseDemo(client, 0);
    if (client !== o.client) await client?.stop().catch(() => undefined);
    if (booted) {
      await booted.down().catch(() => undefined);
      // MK_CHAOS_KEEP=1 keeps the booted system's directory (every part's log) for a post-mortem.
      if (dir && process.env.MK_CHAOS_KEEP === "1") say(`kept ${dir} (its logs in run/logs)`);
      else if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  const after = journal.steady_state.after;
  const held = after?.every((p) => p.within);
  journal.deviated = journal.status === "aborted" || !held || r.ops_failed > 0 || r.bytes_wrong > 0 || r.system_down;
  if (journal.status !== "aborted" && journal.deviated) journal.status = "deviated";
  journal.end = new Date().toISOString();
  journal.duration_ms = Date.now() - started;
  return journal;
}

/** The report as a table for a terminal. */
export function summary(j: Journal): string {
  const rows = summaryRows(j);
  const w = Math.max(...rows.map(([k]) => k.length));
  return [`${j.title}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join("\n");
}

/** The report's rows, name and value (the terminal's table, the dashboard's). */
export function summaryRows(j: Journal): [string, string][] {
  const r = j.report;
  const pct = (p: Pct) => (p.p50 === null ? "-" : `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms`);
  const rows: [string, string][] = [
    ["status", `${j.status}${j.deviated ? " (the steady state did not hold)" : ""}`],
    ["duration", `${(j.duration_ms / 1000).toFixed(1)} s, seed ${j.seed}`],
    [
      "faults injected",
      `${r.faults_injected} (${Object.entries(r.faults_by_kind)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")})`,
    ],
    [
      "faults by target",
      Object.entries(r.faults_by_target)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "-",
    ],
    [
      "detections",
      `${r.detections} (${
        Object.entries(r.detections_by_how)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ") || "-"
      })`,
    ],
    ["recoveries", String(r.recoveries)],
    ["time to detect", pct(r.detect_ms)],
    ["time to serve again", pct(r.recover_ms)],
    ["hangs detected late", String(r.hangs_detected_late)],
    [
      "user operations",
      `${r.ops_attempted} attempted, ${r.ops_failed} failed (or never answered), ${r.ops_retried} resent, ${r.corrupt_replies_caught} corrupt replies caught`,
    ],
    ["bytes", `${r.bytes_written} written, ${r.bytes_verified} verified, ${r.bytes_wrong} wrong`],
    [
      "kernel-core",
      r.system_down
        ? "DOWN: the system did not survive"
        : `${r.kernel_restarts} restarts, up ${r.kernel_uptime_ms === null ? "?" : `${(r.kernel_uptime_ms / 1000).toFixed(1)} s`}; emulator ${r.hardware_restarts} restarts`,
    ],
  ];
  if (r.hardware_faults_observed.length) rows.push(["hardware faults", r.hardware_faults_observed.slice(0, 5).join("; ")]);
  for (const p of [
    ...j.steady_state.before.map((x) => ["before", x] as const),
    ...(j.steady_state.after ?? []).map((x) => ["after", x] as const),
  ]) {
    if (!p[1].within)
      rows.push([`probe ${p[1].name} (${p[0]})`, `${p[1].value} (wanted ${p[1].tolerance})${p[1].detail ? `: ${p[1].detail}` : ""}`]);
  }
  if (r.errors.length) rows.push(["errors", r.errors.slice(0, 5).join("; ")]);
  return rows;
}
