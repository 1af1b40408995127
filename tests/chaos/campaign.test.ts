// The chaos runner's CI campaign and the monolithic contrast, on real processes: the
// shipped experiment files, run as `mkctl chaos run` runs them (a fresh system each).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadExperiment } from "../../services/chaos/src/experiment.ts";
import { runExperiment, summary } from "../../services/chaos/src/index.ts";
import { ROOT, shippedLabels } from "../helpers/system.ts";

const SERVICES = shippedLabels();
const experiment = (name: string) => loadExperiment(join(ROOT, "experiments", name), SERVICES);

describe("chaos", () => {
  it("chaos - 300 faults of every kind on ata and tty under a verifying workload: nothing lost, every fault repaired, kernel and emulator untouched", async () => {
    const exp = experiment("campaign.yaml");
    const j = await runExperiment(exp);
    console.log(summary(j));
    const r = j.report;
    expect(j.status).toBe("completed");
    expect(r.faults_injected).toBeGreaterThanOrEqual(300);
    for (const kind of ["kill", "crash", "hang", "block", "slow", "corrupt"]) expect(r.faults_by_kind[kind], kind).toBeGreaterThan(0);
    expect(Object.keys(r.faults_by_target).sort()).toEqual(["ata", "tty"]);
    // Nothing lost: every user operation succeeded and every byte read back as written.
    expect(r.ops_failed).toBe(0);
    expect(r.bytes_wrong).toBe(0);
    expect(r.bytes_verified).toBeGreaterThan(0);
    // Every corrupted reply was caught by the block protocol's checksum (and read again).
    expect(r.corrupt_replies_caught).toBe(r.faults_by_kind.corrupt);
    // Every fatal fault (kill, crash, hang) was detected and repaired; hangs within two heartbeats.
    const fatal = r.faults_by_kind.kill + r.faults_by_kind.crash + r.faults_by_kind.hang + r.faults_by_kind.block;
    expect(r.detections).toBeGreaterThanOrEqual(fatal);
    expect(r.recoveries).toBe(r.detections);
    expect(r.detections_by_how.heartbeat).toBeGreaterThanOrEqual(r.faults_by_kind.hang + r.faults_by_kind.block);
    expect(r.hangs_detected_late).toBe(0);
    expect(r.kernel_restarts).toBe(0);
    expect(r.hardware_restarts).toBe(0);
    expect(r.system_down).toBe(false);
    expect(j.steady_state.after!.every((p) => p.within)).toBe(true);
  }, 600_000);

  it("chaos - hardware faults through the privileged kernel call: a bad sector is EIO for that block only; lost and spurious IRQs and a drive stuck busy lose nothing", async () => {
    const j = await runExperiment(experiment("hardware-faults.yaml"));
    console.log(summary(j));
    const r = j.report;
    expect(j.status).toBe("completed");
    expect(r.faults_by_kind).toMatchObject({ "bad-sector": 3, "lost-irq": 5, "spurious-irq": 5, "stuck-bsy": 3 });
    expect(r.hardware_faults_observed).toHaveLength(3);
    for (const seen of r.hardware_faults_observed) expect(seen).toMatch(/^bad-sector lba \d+: EIO; lba \d+: read$/);
    expect(r.ops_failed).toBe(0);
    expect(r.bytes_wrong).toBe(0);
    expect(r.detections).toBe(0); // no driver died: the driver copes with each fault itself
  }, 300_000);

  it("chaos - the same kill storm with ata in kernel placement: kernel-core dies at the first fault and the report says so", async () => {
    const j = await runExperiment(experiment("ata-kill-monolithic.yaml"));
    console.log(summary(j));
    expect(j.status).toBe("deviated");
    expect(j.report.system_down).toBe(true);
    expect(j.report.faults_injected).toBe(1);
    expect(j.steady_state.after!.find((p) => p.probe === "kernel-up")).toMatchObject({ value: false, within: false });
  }, 300_000);

  it.each(["kernel-restart.yaml", "kernel-restart-ata-in-kernel.yaml"])(
    "chaos - %s: kernel-core restarted three times under the block and file workloads loses nothing, and leaves nothing open",
    async (file) => {
      const j = await runExperiment(experiment(file));
      console.log(summary(j));
      const r = j.report;
      expect(j.status).toBe("completed");
      expect(r.faults_by_kind).toEqual({ restart: 3 });
      expect(r.kernel_restarts).toBe(3);
      expect(r.ops_failed).toBe(0);
      expect(r.bytes_wrong).toBe(0);
      expect(r.by_workload.files.bytes_verified).toBeGreaterThan(0);
      expect(r.by_workload.block.bytes_verified).toBeGreaterThan(0);
      expect(j.steady_state.after!.every((p) => p.within)).toBe(true);
    },
    300_000,
  );
});
