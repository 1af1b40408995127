// One code base, every placement: vfs, mfs and procfs loaded into kernel-core (monolithic)
// run the same verifying file workload as in their own processes, from the same modules.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { FsClient, sysGetEndpoints } from "#libsys";
import { FileWorkload } from "../../services/workload/src/index.ts";
import { bootTestSystem, ROOT, type TestSystem } from "../helpers/system.ts";

const FS_USER = `
  fsuser:
    ipc: [vfs, mfs]
    calls: [getinfo]
`;

let ts: TestSystem | undefined;
afterEach(async () => {
  await ts?.down();
  ts = undefined;
});

describe("file systems in either placement", () => {
  for (const placement of ["kernel", "user"] as const) {
    it(`fs placement - vfs, mfs and procfs in ${placement} placement pass the verifying file workload and leave the disk clean`, async () => {
      ts = await bootTestSystem({ services: FS_USER, placement: { vfs: placement, mfs: placement, procfs: placement } });
      const user = await ts.client("fsuser");
      const rows = await sysGetEndpoints(user.sys);
      for (const label of ["vfs", "mfs", "procfs"])
        expect(
          rows.find((e) => e.label === label),
          label,
        ).toMatchObject({ state: "ready", placement });
      const w = new FileWorkload(user.sys, { workers: 3, maxBytes: 20000, seed: 42 });
      const started = Date.now();
      await w.start();
      await waitUntil(() => (w.stats.ops_attempted >= 200 ? true : undefined), {
        clock: systemClock,
        deadlineMs: 60_000,
        what: "200 file operations",
      });
      const s = await w.stop();
      console.log(
        `${placement} placement: ${s.ops_attempted} file operations in ${Date.now() - started} ms (final checks included), ${s.bytes_verified} bytes verified`,
      );
      expect(s.ops_failed).toBe(0);
      expect(s.bytes_wrong).toBe(0);
      const fs = new FsClient(user.sys);
      expect((await fs.readFile("/proc/ata/status")).toString()).toMatch(/^Name:\tata$/m);
      const check = spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), "fsck", "--run-dir", ts.sys.state.runDir], {
        encoding: "utf8",
      });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    }, 90_000);
  }
});
