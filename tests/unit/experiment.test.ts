// Experiment files: every shipped one loads; a bad one is refused before anything runs,
// naming the file and the field's path; mkctl chaos run exits 2 for it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadExperiment, parseExperiment } from "../../services/chaos/src/experiment.ts";
import { experimentSystemYaml, percentiles } from "../../services/chaos/src/runner.ts";
import { loadSystemTable, parseSystemTable } from "#base/system-table.ts";

const ROOT = join(import.meta.dirname, "../..");
const SERVICES = [...loadSystemTable(join(ROOT, "etc", "system.yaml")).services.keys()];
const good = {
  title: "t",
  "steady-state-hypothesis": { title: "h", probes: [{ name: "up", probe: "kernel-up", tolerance: true }] },
  method: [{ type: "action", name: "kill", fault: "kill", targets: ["ata"], count: 2 }],
};
const refused = (raw: unknown) => {
  try {
    parseExperiment(raw, "x.yaml", SERVICES);
  } catch (e) {
    return e as { code: string; message: string; detail?: { arg?: string } };
  }
  throw new Error("accepted");
};

describe("chaos experiments", () => {
  it("experiments - every shipped file loads, and its system table is one kernel-core accepts", () => {
    const files = readdirSync(join(ROOT, "experiments")).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const exp = loadExperiment(join(ROOT, "experiments", f), SERVICES);
      expect(exp.method.length, f).toBeGreaterThan(0);
      const table = parseSystemTable(experimentSystemYaml(exp));
      for (const [label, r] of Object.entries(exp.system.restart)) {
        if (r.heartbeat_ms) expect(table.services.get(label)!.restart.heartbeatMs, `${f} ${label}`).toBe(r.heartbeat_ms);
      }
      for (const [label, p] of Object.entries(exp.system.placement)) expect(table.services.get(label)!.placement).toBe(p);
    }
  });

  it("experiments - a bad field is refused with the file and its path, before anything runs", () => {
    expect(parseExperiment(good, "x.yaml", SERVICES)).toMatchObject({ seed: 1, workload: { workers: 4 } });
    const timed = {
      ...good,
      method: [{ type: "action", name: "k", fault: "kill", targets: ["ata"], duration_ms: 3000, interval_ms: 500 }],
    };
    expect(parseExperiment(timed, "x.yaml", SERVICES).method[0]).toMatchObject({ durationMs: 3000, intervalMs: 500 });
    const cases: [unknown, string][] = [
      [{ ...good, method: [{ ...good.method[0], targets: ["nope"] }] }, "method[0].targets[0]"],
      [{ ...good, method: [{ ...good.method[0], targets: ["kernel"] }] }, "method[0].targets[0]"],
      [{ ...good, method: [{ ...good.method[0], fault: "explode" }] }, "method[0].fault"],
      [{ ...good, method: [{ ...good.method[0], count: -1 }] }, "method[0].count"],
      [{ ...good, method: [] }, "method"],
      [{ ...good, extra: 1 }, "(top).extra"],
      [
        { ...good, "steady-state-hypothesis": { title: "h", probes: [{ name: "p", probe: "vibes" }] } },
        "steady-state-hypothesis.probes[0].probe",
      ],
      [{ ...good, system: { placement: { ata: "ring0" } } }, "system.placement.ata"],
      [{ ...good, seed: 1.5 }, "seed"],
      [{ ...good, method: [{ ...good.method[0], duration_ms: 1000 }] }, "method[0].duration_ms"],
      ["a string", "(top)"],
    ];
    // Each refusal names the field's path, as a field (the message says it in words).
    for (const [raw, path] of cases) {
      const e = refused(raw);
      expect(e.code).toBe("MK_ERR_EXPERIMENT");
      expect(e.detail).toEqual({ arg: path });
    }
  });

  it("experiments - mkctl chaos run exits 2 for a bad file or invocation, naming what is wrong", () => {
    const dir = mkdtempSync(join(tmpdir(), "mkos-exp-"));
    writeFileSync(
      join(dir, "bad.yaml"),
      "title: t\nmethod: [{type: action, name: k, fault: kill, targets: [ghost]}]\nsteady-state-hypothesis: {title: h, probes: []}\n",
    );
    const mkctl = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), ...args], { encoding: "utf8", timeout: 30_000 });
    const bad = mkctl("chaos", "run", join(dir, "bad.yaml"));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml: method\[0\]\.targets\[0\]: no service "ghost"/);
    expect(mkctl("chaos", "run", join(dir, "missing.yaml")).status).toBe(2);
    expect(mkctl("chaos").status).toBe(2);
  });

  it("experiments - percentiles of the report", () => {
    expect(percentiles([])).toEqual({ p50: null, p99: null, max: null });
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ p50: 3, p99: 5, max: 5 });
  });
});
