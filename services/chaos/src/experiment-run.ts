// One run of an experiment (runExperiment): connect, check the steady state, start the
// verifying workloads, inject the method's faults, wait for healing, check again, roll
// back, collect rs's recoveries, and the verdict. Each step is a method of ExperimentRun.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cdev, Common, EMPTY, Fs, isMkError, MkError, type ReqArgs, Rs, WORKLOAD_MAX_PAUSE_MS, type ServiceStatus } from "#abi";
import {
  BdevClient,
  connectClient,
  createLogger,
  FsClient,
  followEvents,
  sysHwfault,
  systemClock,
  waitUntil,
  type RunningService,
} from "#libsys";
import { LocalError } from "#base/errors.ts";
import { StopWaiting } from "#base/wait.ts";
import { ProcessSystem } from "#boot";
import { FileWorkload, Workload, type WorkloadStats } from "#workload";
import { FATAL, HARDWARE_FAULTS, type Experiment, type FaultAction, type ProbeName } from "./experiment.ts";
import {
  addStats,
  type ChaosTarget,
  DEMO_WORKLOAD,
  experimentSystemYaml,
  type Journal,
  pauseDemo,
  percentiles,
  type ProbeResult,
  processTarget,
  recoveriesOf,
  type Report,
  rng,
  type RunOptions,
} from "./runner.ts";

/** A fresh report: every count zero. */
function emptyReport(): Report {
  return {
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
  };
}

/** Where the run happens: the target given, the system mkctl up started, or a fresh one booted for it. */
async function openTarget(
  exp: Experiment,
  o: RunOptions,
  say: (s: string) => void,
): Promise<{ sys: ChaosTarget; booted?: ProcessSystem; dir?: string }> {
  if (o.target) return { sys: o.target };
  if (o.attach) return { sys: processTarget(o.attach) };
  const dir = mkdtempSync(join(tmpdir(), "mkos-chaos-"));
  writeFileSync(join(dir, "system.yaml"), experimentSystemYaml(exp));
  const placements = Object.entries(exp.system.placement).map(([l, p]) => `${l}: ${p}`);
  say(`booting mkos for "${exp.title}" (${placements.join(", ") || "shipped placements"})`);
  // MK_CHAOS_LOG_LEVEL (debug: every message) for a post-mortem with MK_CHAOS_KEEP=1.
  try {
    const booted = await ProcessSystem.up({
      system: join(dir, "system.yaml"),
      runDir: join(dir, "run"),
      disk: join(dir, "disk.img"),
      env: { MK_LOG_LEVEL: process.env.MK_CHAOS_LOG_LEVEL ?? "warn" },
    });
    return { sys: processTarget(booted, true), booted, dir };
  } catch (e) {
    // A boot that failed leaves nothing behind, unless asked to keep it for a post-mortem.
    if (process.env.MK_CHAOS_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * One run of an experiment, step by step: connect, check the steady state, start the
 * workloads, run the method, wait for healing, stop the workloads, check again, roll
 * back, collect rs's recoveries, close. Each step is a method; the state they share is
 * here, not in closures.
 */
class ExperimentRun {
  readonly journal: Journal;
  private readonly r: Report;
  private readonly exp: Experiment;
  private readonly o: RunOptions;
  private readonly sys: ChaosTarget;
  private readonly say: (s: string) => void;
  private readonly started: number;
  private readonly random: () => number;
  private readonly log = createLogger("chaos");
  private client?: RunningService;
  /** kernel-core's process: a restart the method asked for is not a deviation, so it moves with it. */
  private kernelPid: string | undefined;
  private readonly hardwarePid: string | undefined;
  private readonly kernelBoots = new Set<string>();
  private workload?: Workload;
  private files?: FileWorkload;
  private stats?: WorkloadStats;
  private fileStats?: WorkloadStats;
  private demoPaused = false;
  /** The generation each target last received a fatal fault in: the next waits for a newer one. */
  private readonly faulted = new Map<string, number>();
  /** When the runner first saw each target's current incarnation serving. */
  private readonly servingSeen = new Map<string, { generation: number; at: number }>();

  constructor(exp: Experiment, o: RunOptions, sys: ChaosTarget, say: (s: string) => void, started: number) {
    this.exp = exp;
    this.o = o;
    this.sys = sys;
    this.say = say;
    this.started = started;
    this.random = rng(exp.seed);
    this.log.level = "error";
    this.r = emptyReport();
    this.journal = {
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
      report: this.r,
    };
    this.kernelPid = sys.incarnation("kernel");
    this.hardwarePid = sys.incarnation("hardware");
  }

  private get c(): RunningService {
    return this.client!;
  }

  private kernelAlive(): boolean {
    return this.kernelPid !== undefined && this.sys.alive("kernel");
  }

  private async services(): Promise<ServiceStatus[]> {
    return (await this.c.sys.sendrec("rs", Rs.RS_LIST, {}, undefined, 10_000)).args.services;
  }

  private placementOf(label: string): string {
    return (this.sys.booted ? this.exp.system.placement[label] : undefined) ?? this.sys.table.services.get(label)?.placement ?? "user";
  }

  private heartbeatOf(label: string): number {
    return this.sys.table.services.get(label)?.restart.heartbeatMs ?? 1000;
  }

  private error(message: string): void {
    if (this.r.errors.length < 20) this.r.errors.push(message);
  }

  /** The runner's connection, the kernel's event stream, and a running system's demo workload paused. */
  async connect(): Promise<void> {
    if (!this.sys.booted && (Object.keys(this.exp.system.placement).length || Object.keys(this.exp.system.restart).length)) {
      this.say("the experiment's system section applies only when the runner boots the system: ignored here");
    }
    this.client = this.o.client ?? (await connectClient("chaos", this.sys.credential("chaos"), { log: this.log }));
    await followEvents(this.c.sys, (ev) => void this.kernelBoots.add(ev.boot));
    // A running system's demo workload (compose, mkctl up --demo) pauses for the run: the
    // experiment runs its own verifying workloads, and its fsck probe needs no file open.
    // The pause is answered once the workload's operation under way has finished, and
    // expires by itself should the runner die; it is asked again before the closing probes
    // (a run longer than the pause, or a workload restarted meanwhile) and ended with the run.
    if (!this.sys.booted && this.sys.table.services.has(DEMO_WORKLOAD)) {
      this.demoPaused = true; // ended at the end even if its answer was lost: the pause may have taken
      const why = await pauseDemo(this.c, WORKLOAD_MAX_PAUSE_MS);
      this.say(
        why === undefined ? "the demo workload is paused for the run" : `the demo workload did not take the pause (${why}): going on`,
      );
    }
  }

  private async probe(p: { name: string; probe: ProbeName; tolerance: boolean }): Promise<ProbeResult> {
    let value = false;
    let detail: string | undefined;
    const c = this.c;
    const seed = this.exp.seed;
    try {
      switch (p.probe) {
        case "kernel-up": {
          const ok = this.kernelAlive() && (await this.sys.kernelReady());
          value = ok && this.sys.incarnation("kernel") === this.kernelPid;
          if (!value) detail = this.kernelAlive() ? "kernel-core not ready" : "kernel-core is not running";
          break;
        }
        case "services-running": {
          const down = (await this.services()).filter((s) => s.state !== "running" && this.placementOf(s.label) === "user");
          value = down.length === 0;
          if (!value) detail = down.map((s) => `${s.label} ${s.state}${s.last_cause ? ` (${s.last_cause})` : ""}`).join(", ");
          break;
        }
        case "disk-verifies": {
          const disk = new BdevClient(c.sys, "ata", { waitMs: 10_000, timeoutMs: 5000 });
          const data = new Uint8Array(4096).map((_, i) => (i * 7 + seed) & 0xff);
          await disk.write(64, data);
          value = Buffer.compare(Buffer.from(await disk.read(64, 8)), Buffer.from(data)) === 0;
          break;
        }
        case "files-verify": {
          const fs = new FsClient(c.sys, { waitMs: 10_000, timeoutMs: 5000 });
          const data = new Uint8Array(5000).map((_, i) => (i * 13 + seed) & 0xff);
          await fs.writeFile("/chaos-probe", data);
          value = Buffer.compare(await fs.readFile("/chaos-probe"), Buffer.from(data)) === 0;
          await fs.unlink("/chaos-probe");
          break;
        }
        case "fsck-clean": {
          // mfs's own check of the whole disk (no file may be open: after the workload).
          const rep = await c.sys.sendrec("mfs", Fs.FS_FSCK, { repair: 0 }, EMPTY, 120_000);
          value = rep.args.clean === 1;
          if (!value) detail = `${rep.args.problems} problem(s): ${new TextDecoder().decode(rep.data).slice(0, 300)}`;
          break;
        }
        case "tty-writes": {
          const rep = await c.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new TextEncoder().encode("chaos probe\n"), 5000);
          value = rep.args.count === 12;
          break;
        }
      }
    } catch (e) {
      detail = `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message}`.trim();
    }
    return { ...p, value, within: value === p.tolerance, ...(detail ? { detail } : {}) };
  }

  private async hypothesis(): Promise<ProbeResult[]> {
    const results: ProbeResult[] = [];
    for (const p of this.exp.hypothesis.probes) results.push(await this.probe(p));
    return results;
  }

  /** The steady state before the method; false (the run aborted) when it does not hold. */
  async steadyStateBefore(): Promise<boolean> {
    const before = await this.hypothesis();
    this.journal.steady_state.before = before;
    const off = before.filter((p) => !p.within);
    if (off.length === 0) return true;
    this.journal.status = "aborted";
    this.journal.deviated = true;
    this.say(`steady state does not hold before the method: ${off.map((p) => `${p.name}: ${p.detail ?? p.value}`).join("; ")}`);
    return false;
  }

  async startWorkloads(): Promise<void> {
    if (this.exp.workload) {
      this.workload = new Workload(this.c.sys, { ...this.exp.workload, seed: this.exp.seed });
      await this.workload.start();
    }
    if (this.exp.files) {
      this.files = new FileWorkload(this.c.sys, { ...this.exp.files, seed: this.exp.seed });
      await this.files.start();
    }
  }

  /**
   * Until label serves with a generation newer than its last fatal fault's, and, with an
   * action's serving_ms, has served that long: a storm that hangs each server the moment
   * it is back (the soak's hangs, 300 ms apart over three targets) leaves no window in
   * which any operation could finish.
   */
  private async untilServing(label: string, minServing = 0, ms = 30_000): Promise<void> {
    if (this.placementOf(label) === "kernel") return;
    const after = this.faulted.get(label) ?? 0;
    await waitUntil(
      async () => {
        if (!this.kernelAlive()) throw new StopWaiting(new LocalError("MK_ERR_KERNEL_UNREACHABLE", "kernel-core is down"));
        const row = (await this.services().catch(() => [])).find((s) => s.label === label);
        // rs gave up on it (past its intensity): it will not serve again by itself.
        if (row?.state === "failed")
          throw new StopWaiting(new LocalError("MK_ERR_PART_EXITED", `${label} failed: ${row.last_cause ?? "rs gave up"}`));
        const generation = row?.generation ?? 0;
        if (row?.state !== "running" || generation <= after) return undefined;
        const seen = this.servingSeen.get(label);
        if (seen?.generation !== generation) this.servingSeen.set(label, { generation, at: Date.now() });
        return Date.now() - this.servingSeen.get(label)!.at >= minServing ? true : undefined;
      },
      { clock: systemClock, deadlineMs: ms, intervalMs: 25, what: `${label} serving after generation ${after}` },
    );
  }

  /** One fault of an action, on one of its targets, recorded by rec. */
  private async inject(a: FaultAction, rec: (e: Journal["run"][number]) => void): Promise<void> {
    const target = a.targets[Math.floor(this.random() * a.targets.length)];
    const at = new Date().toISOString();
    const inKernel = this.placementOf(target) === "kernel";
    // Each fault hits a serving incarnation, and a fatal one a new one (never the same process twice).
    if (!HARDWARE_FAULTS.includes(a.fault) && a.fault !== "clear" && a.fault !== "restart")
      await this.untilServing(target, a.servingMs ?? 0);
    const gen = (await this.services().catch(() => [])).find((s) => s.label === target)?.generation;
    if (FATAL.includes(a.fault) && gen) this.faulted.set(target, gen);
    const note = HARDWARE_FAULTS.includes(a.fault) ? await this.hardwareFault(a, target) : await this.serviceFault(a, target, inKernel);
    const r = this.r;
    r.faults_injected++;
    r.faults_by_kind[a.fault] = (r.faults_by_kind[a.fault] ?? 0) + 1;
    r.faults_by_target[target] = (r.faults_by_target[target] ?? 0) + 1;
    rec({ name: a.name, fault: a.fault, target, at, ...(gen ? { generation: gen } : {}), ...(note ? { note } : {}) });
    if (inKernel && FATAL.includes(a.fault)) {
      // The monolithic blue screen: wait to see kernel-core go.
      await waitUntil(() => (this.kernelAlive() ? undefined : true), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: "kernel-core to die",
      }).catch(() => undefined);
    }
  }

  /** A fault in a service (or kernel-core's restart); returns a note for the journal. */
  private async serviceFault(a: FaultAction, target: string, inKernel: boolean): Promise<string | undefined> {
    const c = this.c;
    const fault = (args: ReqArgs<typeof Common.COMMON_FAULT>) => c.sys.sendrec(target, Common.COMMON_FAULT, args, EMPTY, 5000);
    // A crash is armed, then the next request the server handles throws: send one (an idle server would never crash).
    const crash = async () => {
      try {
        await fault({ fault: "crash" });
      } catch (e) {
        // Armed, and a request already under way crashed it before the answer left (the
        // process ends at once): it was serving a moment ago, so this death is the crash.
        if (isMkError(e, "EDEADSRCDST")) return;
        throw e;
      }
      await c.sys.sendrec(target, Common.COMMON_PING, {}, EMPTY, 5000).catch(() => undefined);
    };
    switch (a.fault) {
      case "kill":
      case "hang":
        if (inKernel) {
          // An in-kernel service has no process of its own: the fault becomes a crash inside kernel-core.
          await crash();
          return "in kernel placement: crashed inside kernel-core";
        }
        this.sys.signal(target, a.fault === "kill" ? "SIGKILL" : "SIGSTOP");
        return undefined;
      case "crash":
        await crash();
        return undefined;
      case "slow":
        await fault({ fault: "slow", ms: a.ms ?? 200, count: a.n ?? 5 });
        return undefined;
      case "block":
        // Busy for longer than two heartbeats: rs must find the hang and replace it.
        await fault({ fault: "block", ms: a.ms ?? Math.min(60_000, 4 * this.heartbeatOf(target) + 1000) });
        return undefined;
      case "corrupt":
        await fault({ fault: "corrupt", count: a.n ?? 3 });
        return undefined;
      case "clear":
        await fault({ fault: "clear" }).catch(() => undefined);
        await sysHwfault(c.sys, { fault: "clear" });
        return undefined;
      case "restart": {
        // What an operator does with mkctl kill kernel; mkctl start kernel: every service,
        // rs and the workloads' clients register again with the new kernel by themselves.
        const t0 = Date.now();
        await this.sys.restartKernel();
        this.kernelPid = this.sys.incarnation("kernel");
        return `kernel-core answering again ${Date.now() - t0} ms after its SIGKILL`;
      }
      default:
        throw new MkError("EINVAL", `no such fault ${a.fault}`);
    }
  }

  /** A hardware fault, through the privileged kernel call; returns a note for the journal. */
  private async hardwareFault(a: FaultAction, target: string): Promise<string | undefined> {
    const c = this.c;
    const irq = target === "tty" ? 4 : 14;
    if (a.fault === "bad-sector") {
      const lba = 1024 + Math.floor(this.random() * 1024);
      await sysHwfault(c.sys, { fault: "bad-sector", lba, count: a.n ?? 1 });
      // The driver reports EIO for that block and only that block.
      const disk = new BdevClient(c.sys, "ata", { waitMs: 10_000, timeoutMs: 10_000 });
      const outcome = (lbaToRead: number) =>
        disk.read(lbaToRead, 1).then(
          () => "read",
          (e: { errno?: string }) => e.errno ?? "error",
        );
      const bad = await outcome(lba);
      const good = await outcome(lba + (a.n ?? 1));
      const note = `lba ${lba}: ${bad}; lba ${lba + (a.n ?? 1)}: ${good}`;
      this.r.hardware_faults_observed.push(`bad-sector ${note}`);
      await sysHwfault(c.sys, { fault: "clear" });
      return note;
    }
    if (a.fault === "stuck-bsy") await sysHwfault(c.sys, { fault: "stuck-bsy", ms: a.ms ?? 500 });
    else await sysHwfault(c.sys, { fault: a.fault as "lost-irq" | "spurious-irq", irq, count: a.n ?? 3 });
    return undefined;
  }

  /** The method: each step's faults (or pause) in order, while kernel-core lives. */
  async method(): Promise<void> {
    for (const step of this.exp.method) {
      if (!this.kernelAlive()) break;
      if (step.type === "pause") {
        this.journal.run.push({ name: step.name, at: new Date().toISOString() });
        await systemClock.sleep(step.durationMs);
        continue;
      }
      const howMany = step.durationMs !== undefined ? `for ${step.durationMs} ms` : `${step.count} ×`;
      this.say(`${step.name}: ${howMany} ${step.fault} on ${step.targets.join(", ")}`);
      const until = step.durationMs !== undefined ? Date.now() + step.durationMs : Infinity;
      for (let i = 0; i < step.count && this.kernelAlive() && Date.now() < until; i++) {
        try {
          await this.inject(step, (e) => this.journal.run.push(e));
        } catch (e) {
          this.error(`${step.name}: ${(e as Error).message}`);
          if (!this.kernelAlive()) break;
        }
        if (step.intervalMs > 0) await systemClock.sleep(step.intervalMs);
      }
    }
    this.r.system_down = !this.kernelAlive();
  }

  /** Healing: every service the method hit serving again. */
  async heal(): Promise<void> {
    if (this.r.system_down) return;
    const hit = new Set(this.exp.method.flatMap((s) => (s.type === "action" && s.fault !== "restart" ? s.targets : [])));
    for (const label of hit) await this.untilServing(label, 0, 60_000).catch((e: Error) => this.error(e.message));
  }

  async stopWorkloads(): Promise<void> {
    // With the kernel gone nothing answers: the workloads' requests fail at their deadline.
    const stopped = async (w: { stop(): Promise<WorkloadStats>; snapshot(): WorkloadStats }) =>
      this.r.system_down ? await Promise.race([w.stop(), systemClock.sleep(5_000).then(() => w.snapshot())]) : await w.stop();
    if (this.workload) this.stats = await stopped(this.workload);
    if (this.files) this.fileStats = await stopped(this.files);
  }

  async steadyStateAfter(): Promise<void> {
    if (this.demoPaused && !this.r.system_down) await pauseDemo(this.c, WORKLOAD_MAX_PAUSE_MS);
    this.journal.steady_state.after = await this.hypothesis();
  }

  /** The rollbacks, once per target; they are not counted as faults. */
  async rollbacks(): Promise<void> {
    const r = this.r;
    for (const a of this.exp.rollbacks) {
      if (r.system_down) break;
      for (const t of a.targets) {
        await this.inject({ ...a, targets: [t], count: 1 }, (e) =>
          this.journal.rollbacks.push({ name: a.name, fault: a.fault, target: t, at: e.at, ...(e.note ? { note: e.note } : {}) }),
        ).catch((e: Error) => {
          this.journal.rollbacks.push({
            name: a.name,
            fault: a.fault,
            target: t,
            at: new Date().toISOString(),
            note: `failed: ${e.message}`,
          });
        });
      }
      r.faults_injected -= a.targets.length;
      r.faults_by_kind[a.fault] = (r.faults_by_kind[a.fault] ?? a.targets.length) - a.targets.length;
      if (r.faults_by_kind[a.fault] <= 0) delete r.faults_by_kind[a.fault];
      for (const t of a.targets) {
        r.faults_by_target[t]--;
        if (r.faults_by_target[t] <= 0) delete r.faults_by_target[t];
      }
    }
  }

  /** rs's recoveries since the start, kernel-core's uptime and restarts, the emulator's. */
  async collect(): Promise<void> {
    const r = this.r;
    if (!r.system_down) {
      const reply = await this.c.sys.sendrec("rs", Rs.RS_RECOVERIES, { since: this.started }, undefined, 10_000);
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
      // Late: past two periods, the quarter-period tick, one more tick of a loaded machine's
      // scheduling and 100 ms (a missed check shows as a whole period more).
      r.hangs_detected_late = recs.filter((x) => x.how === "heartbeat" && x.detectMs > 2.5 * this.heartbeatOf(x.label) + 100).length;
      const startedAt = await this.sys.kernelStartedAt();
      r.kernel_uptime_ms = startedAt === null ? null : Date.now() - startedAt;
    }
    r.kernel_restarts = Math.max(0, this.kernelBoots.size - 1) + (this.sys.incarnation("kernel") !== this.kernelPid ? 1 : 0);
    r.hardware_restarts = this.sys.incarnation("hardware") !== this.hardwarePid || !this.sys.alive("hardware") ? 1 : 0;
  }

  abort(e: unknown): void {
    this.journal.status = "aborted";
    this.r.errors.push((e as Error).message);
  }

  /** The workloads' counts into the report, the demo workload resumed, the connection closed. */
  async close(): Promise<void> {
    const r = this.r;
    if (this.workload && !this.stats) this.stats = this.workload.snapshot();
    if (this.files && !this.fileStats) this.fileStats = this.files.snapshot();
    const own = (w: WorkloadStats) => ({
      ops_attempted: w.ops_attempted,
      ops_failed: w.ops_failed + w.ops_unfinished,
      bytes_verified: w.bytes_verified,
      bytes_wrong: w.bytes_wrong,
    });
    if (this.stats) r.by_workload.block = own(this.stats);
    if (this.fileStats) r.by_workload.files = own(this.fileStats);
    const all = addStats(this.stats, this.fileStats);
    if (all) {
      Object.assign(r, {
        ops_attempted: all.ops_attempted,
        ops_failed: all.ops_failed + all.ops_unfinished,
        ops_retried: all.ops_retried,
        corrupt_replies_caught: all.corrupt_replies,
        bytes_written: all.bytes_written,
        bytes_verified: all.bytes_verified,
        bytes_wrong: all.bytes_wrong,
      });
      r.errors.push(...all.errors.slice(0, 20 - r.errors.length));
    }
    if (this.demoPaused && this.client) await pauseDemo(this.client, 0);
    if (this.client !== this.o.client) await this.client?.stop().catch(() => undefined);
  }

  /** The verdict: deviated when the steady state did not hold after, or anything failed, was wrong or went down. */
  verdict(): Journal {
    const j = this.journal;
    const held = j.steady_state.after?.every((p) => p.within);
    j.deviated = j.status === "aborted" || !held || this.r.ops_failed > 0 || this.r.bytes_wrong > 0 || this.r.system_down;
    if (j.status !== "aborted" && j.deviated) j.status = "deviated";
    j.end = new Date().toISOString();
    j.duration_ms = Date.now() - this.started;
    return j;
  }
}

export async function runExperiment(exp: Experiment, o: RunOptions = {}): Promise<Journal> {
  const say = o.log ?? (() => undefined);
  const started = Date.now();
  const { sys, booted, dir } = await openTarget(exp, o, say);
  const run = new ExperimentRun(exp, o, sys, say, started);
  try {
    await run.connect();
    if (!(await run.steadyStateBefore())) return run.verdict();
    await run.startWorkloads();
    await run.method();
    await run.heal();
    await run.stopWorkloads();
    await run.steadyStateAfter();
    await run.rollbacks();
    await run.collect();
  } catch (e) {
    run.abort(e);
  } finally {
    await run.close();
    if (booted) {
      await booted.down().catch(() => undefined);
      // MK_CHAOS_KEEP=1 keeps the booted system's directory (every part's log) for a post-mortem.
      if (dir && process.env.MK_CHAOS_KEEP === "1") say(`kept ${dir} (its logs in run/logs)`);
      else if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  return run.verdict();
}
