// A chaos experiment file, in Chaos Toolkit's shape: a title, a steady-state hypothesis
// (probes with tolerances, checked before and after the method), a method (fault actions
// and pauses), rollbacks. mkos adds a seed (a run is reproducible), the system to boot
// (placements and restart policies), and the verifying workload that runs during the
// method. A file that is not valid is refused before anything runs, naming the field.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { LocalError } from "#base/errors.ts";

const FAULTS = [
  "kill",
  "hang",
  "block",
  "crash",
  "slow",
  "corrupt",
  "bad-sector",
  "lost-irq",
  "spurious-irq",
  "stuck-bsy",
  "clear",
  "restart",
] as const;
export type FaultKind = (typeof FAULTS)[number];
/** Faults that end an incarnation: rs must detect and restart. */
export const FATAL: readonly FaultKind[] = ["kill", "hang", "block", "crash"];
export const HARDWARE_FAULTS: readonly FaultKind[] = ["bad-sector", "lost-irq", "spurious-irq", "stuck-bsy"];
const PROBES = ["services-running", "kernel-up", "disk-verifies", "tty-writes", "files-verify", "fsck-clean"] as const;
export type ProbeName = (typeof PROBES)[number];

export interface FaultAction {
  type: "action";
  name: string;
  fault: FaultKind;
  /** Service labels (hardware faults: ata for the disk, tty for the UART's IRQ). */
  targets: string[];
  count: number;
  /** Instead of a count: inject for this long (a rate is count or duration with interval_ms). */
  durationMs?: number;
  /** Between faults; each fault also waits for its target to serve again first. */
  intervalMs: number;
  /** slow: delay per reply; hang: nothing (rs's heartbeat finds it). */
  ms?: number;
  /** slow/corrupt: how many replies; bad-sector: how many sectors. */
  n?: number;
  /** The least its target serves (ms, from when the runner sees it ready) before this action faults it again. */
  servingMs?: number;
}

interface Pause {
  type: "pause";
  name: string;
  durationMs: number;
}

export interface Experiment {
  file: string;
  title: string;
  description?: string;
  seed: number;
  hypothesis: { title: string; probes: { name: string; probe: ProbeName; tolerance: boolean }[] };
  method: (FaultAction | Pause)[];
  rollbacks: FaultAction[];
  workload: { workers: number; sectors: number; span: number } | null;
  /** The file workload (through vfs): absent unless the experiment asks for it. */
  files: { workers: number; maxBytes: number } | null;
  system: {
    placement: Record<string, "user" | "kernel">;
    restart: Record<
      string,
      {
        heartbeat_ms?: number;
        backoff_min_ms?: number;
        backoff_max_ms?: number;
        intensity?: { restarts: number; seconds: number };
        standby?: boolean;
      }
    >;
  };
}

class Check {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  fail(path: string, what: string): never {
    throw new LocalError("MK_ERR_EXPERIMENT", `${this.file}: ${path}: ${what}`, { detail: { arg: path } });
  }
  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "expected a mapping");
    return v as Record<string, unknown>;
  }
  only(o: Record<string, unknown>, path: string, keys: string[]): void {
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.fail(`${path}.${k}`, `unknown key (expected one of ${keys.join(", ")})`);
  }
  str(v: unknown, path: string): string {
    if (typeof v !== "string" || v === "" || v.length > 200) this.fail(path, "expected a non-empty string (at most 200 characters)");
    return v;
  }
  int(v: unknown, path: string, min: number, max: number, dflt?: number): number {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  }
  list(v: unknown, path: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "expected a list");
    if (v.length > max) this.fail(path, `at most ${max} entries`);
    return v;
  }
}

export function loadExperiment(file: string, labels: readonly string[]): Experiment {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new LocalError("MK_ERR_EXPERIMENT", `${file}: cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new LocalError("MK_ERR_EXPERIMENT", `${file}: not YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseExperiment(raw, file, labels);
}

/** Checks an experiment against the services that exist (`labels`); every error names its path. */
export function parseExperiment(raw: unknown, file: string, labels: readonly string[]): Experiment {
  const c = new Check(file);
  const top = c.obj(raw, "(top)");
  c.only(top, "(top)", ["title", "description", "seed", "steady-state-hypothesis", "method", "rollbacks", "workload", "files", "system"]);
  const target = (v: unknown, path: string, fault?: string) => {
    const t = c.str(v, path);
    // restart: kernel-core SIGKILLed and started again, as an operator's mkctl kill kernel; mkctl start kernel.
    if (fault === "restart") {
      if (t !== "kernel")
        c.fail(path, `"${t}": restart is a fault of kernel-core only (target kernel); services are killed, and rs restarts them`);
      return t;
    }
    if (t === "kernel" || t === "hardware")
      c.fail(
        path,
        `"${t}" cannot be a target: faults go to services (hardware faults name the service whose device they hit; restart restarts kernel-core)`,
      );
    if (!labels.includes(t)) c.fail(path, `no service "${t}" (services: ${labels.join(", ")})`);
    return t;
  };
  const action = (v: unknown, path: string): FaultAction => {
    const a = c.obj(v, path);
    c.only(a, path, ["type", "name", "fault", "targets", "count", "duration_ms", "interval_ms", "ms", "n", "serving_ms"]);
    if (a.count !== undefined && a.duration_ms !== undefined) c.fail(`${path}.duration_ms`, "give count or duration_ms, not both");
    if (a.type !== "action") c.fail(`${path}.type`, `expected "action"`);
    const named = c.str(a.fault, `${path}.fault`);
    const fault = FAULTS.find((x) => x === named) ?? c.fail(`${path}.fault`, `"${named}" is not a fault (faults: ${FAULTS.join(", ")})`);
    const targets = c.list(a.targets, `${path}.targets`, 16).map((t, i) => target(t, `${path}.targets[${i}]`, fault));
    if (targets.length === 0) c.fail(`${path}.targets`, "names no service");
    return {
      type: "action",
      name: c.str(a.name, `${path}.name`),
      fault,
      targets,
      count: a.duration_ms !== undefined ? 100_000 : c.int(a.count, `${path}.count`, 1, 100_000, 1),
      ...(a.duration_ms !== undefined ? { durationMs: c.int(a.duration_ms, `${path}.duration_ms`, 1, 86_400_000) } : {}),
      intervalMs: c.int(a.interval_ms, `${path}.interval_ms`, 0, 600_000, 0),
      ...(a.ms !== undefined ? { ms: c.int(a.ms, `${path}.ms`, 1, 60_000) } : {}),
      ...(a.n !== undefined ? { n: c.int(a.n, `${path}.n`, 1, 100_000) } : {}),
      ...(a.serving_ms !== undefined ? { servingMs: c.int(a.serving_ms, `${path}.serving_ms`, 0, 600_000) } : {}),
    };
  };
  const hyp = c.obj(top["steady-state-hypothesis"], "steady-state-hypothesis");
  c.only(hyp, "steady-state-hypothesis", ["title", "probes"]);
  const probes = c.list(hyp.probes, "steady-state-hypothesis.probes", 32).map((p, i) => {
    const path = `steady-state-hypothesis.probes[${i}]`;
    const o = c.obj(p, path);
    c.only(o, path, ["name", "probe", "tolerance"]);
    const named = c.str(o.probe, `${path}.probe`);
    const probe = PROBES.find((x) => x === named) ?? c.fail(`${path}.probe`, `"${named}" is not a probe (probes: ${PROBES.join(", ")})`);
    if (o.tolerance !== undefined && typeof o.tolerance !== "boolean") c.fail(`${path}.tolerance`, "expected true or false");
    return { name: c.str(o.name, `${path}.name`), probe, tolerance: (o.tolerance as boolean | undefined) ?? true };
  });
  const method = c.list(top.method, "method", 1000).map((m, i) => {
    const path = `method[${i}]`;
    const o = c.obj(m, path);
    if (o.type === "pause") {
      c.only(o, path, ["type", "name", "duration_ms"]);
      return {
        type: "pause" as const,
        name: c.str(o.name ?? "pause", `${path}.name`),
        durationMs: c.int(o.duration_ms, `${path}.duration_ms`, 0, 3_600_000),
      };
    }
    return action(m, path);
  });
  if (method.length === 0) c.fail("method", "is empty: an experiment needs at least one action");
  const rollbacks = top.rollbacks === undefined ? [] : c.list(top.rollbacks, "rollbacks", 100).map((r, i) => action(r, `rollbacks[${i}]`));
  let workload: Experiment["workload"] = { workers: 4, sectors: 8, span: 2048 };
  if (top.workload === false || top.workload === null) workload = null;
  else if (top.workload !== undefined) {
    const w = c.obj(top.workload, "workload");
    c.only(w, "workload", ["workers", "sectors", "span"]);
    workload = {
      workers: c.int(w.workers, "workload.workers", 1, 32, 4),
      sectors: c.int(w.sectors, "workload.sectors", 1, 256, 8),
      span: c.int(w.span, "workload.span", 1, 100_000, 2048),
    };
  }
  let files: Experiment["files"] = null;
  if (top.files !== undefined && top.files !== null && top.files !== false) {
    const w = c.obj(top.files, "files");
    c.only(w, "files", ["workers", "max_bytes"]);
    files = {
      workers: c.int(w.workers, "files.workers", 1, 16, 2),
      maxBytes: c.int(w.max_bytes, "files.max_bytes", 1, 4 * 1024 * 1024, 65536),
    };
  }
  const system: Experiment["system"] = { placement: {}, restart: {} };
  if (top.system !== undefined) {
    const s = c.obj(top.system, "system");
    c.only(s, "system", ["placement", "restart"]);
    for (const [l, p] of Object.entries(c.obj(s.placement ?? {}, "system.placement"))) {
      target(l, `system.placement.${l}`);
      if (p !== "user" && p !== "kernel") c.fail(`system.placement.${l}`, `"${String(p)}" is not user or kernel`);
      system.placement[l] = p as "user" | "kernel";
    }
    for (const [l, r] of Object.entries(c.obj(s.restart ?? {}, "system.restart"))) {
      target(l, `system.restart.${l}`);
      const o = c.obj(r, `system.restart.${l}`);
      c.only(o, `system.restart.${l}`, ["heartbeat_ms", "backoff_min_ms", "backoff_max_ms", "intensity", "standby"]);
      if (o.standby !== undefined && typeof o.standby !== "boolean") c.fail(`system.restart.${l}.standby`, "expected true or false");
      const p = `system.restart.${l}`;
      const intensity = o.intensity === undefined ? undefined : c.obj(o.intensity, `${p}.intensity`);
      system.restart[l] = {
        ...(o.heartbeat_ms !== undefined ? { heartbeat_ms: c.int(o.heartbeat_ms, `${p}.heartbeat_ms`, 10, 600_000) } : {}),
        ...(o.backoff_min_ms !== undefined ? { backoff_min_ms: c.int(o.backoff_min_ms, `${p}.backoff_min_ms`, 0, 600_000) } : {}),
        ...(o.backoff_max_ms !== undefined ? { backoff_max_ms: c.int(o.backoff_max_ms, `${p}.backoff_max_ms`, 0, 3_600_000) } : {}),
        ...(intensity
          ? {
              intensity: {
                restarts: c.int(intensity.restarts, `${p}.intensity.restarts`, 1, 1000),
                seconds: c.int(intensity.seconds, `${p}.intensity.seconds`, 1, 86_400),
              },
            }
          : {}),
        ...(o.standby !== undefined ? { standby: o.standby as boolean } : {}),
      };
    }
  }
  return {
    file,
    title: c.str(top.title, "title"),
    ...(top.description !== undefined ? { description: String(top.description).slice(0, 2000) } : {}),
    seed: c.int(top.seed, "seed", 0, 2 ** 31 - 1, 1),
    hypothesis: { title: c.str(hyp.title, "steady-state-hypothesis.title"), probes },
    method,
    rollbacks,
    workload,
    files,
    system,
  };
}
