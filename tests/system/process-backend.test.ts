// rs's process backend on real OS processes: what mkctl boots with today and rs will
// supervise with. An exit is reported at once with its signal; a process that ignores
// SIGTERM is killed after the grace period; starting a name that runs stops the old one.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { memoryPidStore, pidAlive, ProcessBackend, type ExitInfo, type RunSpec } from "../../services/rs/src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "mkos-backend-"));
const backend = new ProcessBackend(memoryPidStore());
const exits: ExitInfo[] = [];
backend.onExit((e) => void exits.push(e));

const spec = (name: string, script: string): RunSpec => ({
  name,
  command: ["node", "-e", script],
  cwd: dir,
  env: { PATH: process.env.PATH ?? "" },
  logFile: join(dir, `${name}.log`),
});
const exitOf = (pid: number) =>
  waitUntil(() => exits.find((e) => e.pid === pid), { clock: systemClock, deadlineMs: 10_000, what: `exit of ${pid}` });

afterAll(async () => {
  await backend.stopAll([backend.list().map((p) => p.name)], 500);
  rmSync(dir, { recursive: true, force: true });
});

describe("process backend", () => {
  it("process backend - a started process runs detached, logs to its file, and its SIGKILL is reported at once with the signal", async () => {
    const pid = await backend.start(spec("worker", "console.log('hello from ' + process.pid); setInterval(() => {}, 1000)"));
    expect(backend.pid("worker")).toBe(pid);
    await waitUntil(() => (readFileSync(join(dir, "worker.log"), "utf8").includes(`hello from ${pid}`) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "the log line",
    });
    expect(backend.signal("worker", "SIGKILL")).toBe(pid);
    expect(await exitOf(pid)).toMatchObject({ name: "worker", code: null, signal: "SIGKILL" });
    expect(backend.alive("worker")).toBe(false);
  });

  it("process backend - an exit code is reported; a process that ignores SIGTERM is SIGKILLed after the grace period", async () => {
    const quick = await backend.start(spec("quick", "process.exit(3)"));
    expect(await exitOf(quick)).toMatchObject({ code: 3, signal: null });
    const stubborn = await backend.start(
      spec("stubborn", "process.on('SIGTERM', () => console.log('ignored')); setInterval(() => {}, 1000); console.log('up')"),
    );
    await waitUntil(() => (readFileSync(join(dir, "stubborn.log"), "utf8").includes("up") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "stubborn up",
    });
    await backend.stop("stubborn", 300);
    expect(pidAlive(stubborn)).toBe(false);
    expect(await exitOf(stubborn)).toMatchObject({ signal: "SIGKILL" });
    expect(readFileSync(join(dir, "stubborn.log"), "utf8")).toContain("ignored");
  });

  it("process backend - starting a name that runs stops the old process first; a command that cannot run is an error naming it", async () => {
    const first = await backend.start(spec("svc", "setInterval(() => {}, 1000)"));
    const second = await backend.start(spec("svc", "setInterval(() => {}, 1000)"));
    expect(second).not.toBe(first);
    expect(pidAlive(first)).toBe(false);
    expect(backend.list().filter((p) => p.name === "svc")).toEqual([{ name: "svc", pid: second, alive: true }]);
    await expect(backend.start({ ...spec("ghost", ""), command: [join(dir, "no-such-binary")] })).rejects.toMatchObject({
      code: "MK_ERR_SPAWN_FAILED",
      detail: { label: "ghost" },
      cause: expect.objectContaining({ code: "ENOENT" }),
    });
  });
});
