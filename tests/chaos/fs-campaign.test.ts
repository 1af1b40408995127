// The file systems' CI campaign (experiments/fs-campaign.yaml), on real processes: 300
// faults of every kind across ata, mfs and vfs while the verifying file workload runs.
// Afterwards the disk image itself is checked by util-linux's fsck.minix.
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ProcessSystem } from "../../services/boot/src/boot.ts";
import { loadExperiment } from "../../services/chaos/src/experiment.ts";
import { experimentSystemYaml, runExperiment, summary } from "../../services/chaos/src/index.ts";
import { ROOT, shippedLabels } from "../helpers/system.ts";

const SECTORS = 32768; // experimentSystemYaml's disk: the file system is the second half

describe("chaos on the file systems", () => {
  it("chaos - 300 faults of every kind on ata, mfs and vfs under the file workload: no operation fails, no byte is wrong, both checks find the disk clean", async () => {
    const exp = loadExperiment(join(ROOT, "experiments", "fs-campaign.yaml"), shippedLabels());
    const dir = mkdtempSync(join(tmpdir(), "mkos-fs-campaign-"));
    writeFileSync(join(dir, "system.yaml"), experimentSystemYaml(exp));
    const sys = await ProcessSystem.up({
      system: join(dir, "system.yaml"),
      runDir: join(dir, "run"),
      disk: join(dir, "disk.img"),
      env: { MK_LOG_LEVEL: "warn" },
    });
    try {
      const j = await runExperiment(exp, { attach: sys });
      console.log(summary(j));
      const r = j.report;
      expect(j.status).toBe("completed");
      expect(r.faults_injected).toBeGreaterThanOrEqual(300);
      for (const kind of ["kill", "crash", "hang", "block", "slow", "corrupt"]) expect(r.faults_by_kind[kind], kind).toBeGreaterThan(0);
      expect(Object.keys(r.faults_by_target).sort()).toEqual(["ata", "mfs", "vfs"]);
      // The workloads did real work, and lost none of it.
      // (About 2,500 file operations in a run of its own here; fewer when CI's other suites share the 2 cores.)
      expect(r.by_workload.files.ops_attempted).toBeGreaterThan(250);
      expect(r.by_workload.files.bytes_verified).toBeGreaterThan(500_000);
      expect(r.ops_failed).toBe(0);
      expect(r.bytes_wrong).toBe(0);
      // Every corrupted reply met the block protocol's checksum and was read again.
      expect(r.corrupt_replies_caught).toBeLessThanOrEqual(r.faults_by_kind.corrupt);
      const fatal = r.faults_by_kind.kill + r.faults_by_kind.crash + r.faults_by_kind.hang + r.faults_by_kind.block;
      expect(r.detections).toBeGreaterThanOrEqual(fatal);
      expect(r.recoveries).toBe(r.detections);
      expect(r.hangs_detected_late).toBe(0);
      expect(r.kernel_restarts).toBe(0);
      expect(r.hardware_restarts).toBe(0);
      // files-verify and fsck-clean (mfs's own check of the whole disk) held after the method.
      expect(j.steady_state.after!.every((p) => p.within)).toBe(true);
    } finally {
      await sys.down();
    }
    // util-linux reads the same disk: the file-system half of the image, checked and listed.
    const img = join(dir, "fs.img");
    const fd = openSync(join(dir, "disk.img"), "r");
    const half = Buffer.alloc((SECTORS / 2) * 512);
    readSync(fd, half, 0, half.length, (SECTORS / 2) * 512);
    closeSync(fd);
    writeFileSync(img, half);
    const check = spawnSync("fsck.minix", ["-f", img], { encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(spawnSync("fsck.minix", ["-fl", img], { encoding: "utf8" }).stdout).toMatch(/\/chaos\/w0\//);
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);
});
