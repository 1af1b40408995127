// CPU-bound (or blocked) user programs for bench:sched and the scheduling tests: each
// bench/spin.ts registered as its label, started and ended the same way everywhere.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../services/boot/src/index.ts";

/** Starts bench/spin.ts as label (credFile: absolute, or relative to the checkout) and waits for its "ready". */
export async function startSpin(label: string, credFile: string, mode: "compute" | "read" = "compute"): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, "bench", "spin.ts")], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, MK_LABEL: label, MK_CREDS: credFile, MK_SPIN_MODE: mode, MK_LOG_LEVEL: "warn" },
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`${label} exited with ${code} before it was ready`)));
  });
  return child;
}

/** SIGKILLs every program still running and waits for each to exit; the list is emptied. */
export async function endAll(children: ChildProcess[]): Promise<void> {
  const all = children.splice(0);
  await Promise.all(
    all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGKILL");
        }),
    ),
  );
}
