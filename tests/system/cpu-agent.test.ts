// The CPU agent (compose's hands for the scheduler) with real processes: it stops and
// continues a process whose UID is a scheduled service's, refuses root's and anything
// unlisted whatever it is asked, and continues what it stopped when kernel-core's
// connection closes. On the host, not in containers: the UID check is the same.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock, waitUntil } from "#libsys";
import { AgentControl, parseUids, readProcStat } from "../../kernel-core/src/sched/process-control.ts";
import { ROOT } from "../helpers/system.ts";

const me = process.getuid!();
/** The scheduled program's UID: another than root's when the tests run as root. */
const hogUid = me === 0 ? 65534 : me;
let dir: string;
let sock: string;
let agent: ChildProcess;
const children: ChildProcess[] = [];

function burner(uid?: number): ChildProcess {
  const c = spawn(process.execPath, ["-e", "for(;;){}"], {
    stdio: "ignore",
    ...(uid !== undefined && uid !== me ? { uid, gid: uid } : {}),
  });
  children.push(c);
  return c;
}

const state = (pid: number) => readProcStat(pid)?.state;

const until = (pid: number, stopped: boolean, what: string) =>
  waitUntil(() => ((state(pid) === "T") === stopped ? true : undefined), { clock: systemClock, deadlineMs: 5000, intervalMs: 5, what });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mkos-cpu-agent-"));
  sock = join(dir, "agent.sock");
  agent = spawn(process.execPath, [join(ROOT, "kernel-core/src/sched/cpu-agent.ts")], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, MK_CPU_AGENT: sock, MK_UIDS: `kernel=${me},hog=${hogUid}`, MK_LOG_LEVEL: "warn" },
  });
  await waitUntil(() => (existsSync(sock) ? true : undefined), { clock: systemClock, deadlineMs: 10_000, what: "the agent's socket" });
});

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  agent?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

describe("cpu agent", () => {
  it("cpu agent - verifies by UID, stops and continues a scheduled process, and continues what it stopped when kernel-core's connection closes", async () => {
    const hog = burner(hogUid);
    await waitUntil(() => (state(hog.pid!) === "R" ? true : undefined), { clock: systemClock, deadlineMs: 5000, what: "the hog running" });
    const control = new AgentControl(sock, parseUids(`kernel=${me},hog=${hogUid}`));
    try {
      await waitUntil(() => (control.stop(-1) === false && control.verify(hog.pid!, "hog") && control.stop(hog.pid!) ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        what: "the agent connected",
      });
      await until(hog.pid!, true, "the hog stopped");
      expect(control.sample(hog.pid!)?.state).toBe("T");
      expect(control.cont(hog.pid!)).toBe(true);
      await until(hog.pid!, false, "the hog continued");
      // Not label's UID, not listed, the kernel's own process: never verified.
      expect(control.verify(hog.pid!, "ata")).toBe(false);
      expect(control.verify(process.pid, "hog")).toBe(false);
      expect(control.setHostNice(hog.pid!, 9)).toBe(true);
      await waitUntil(() => (readProcStat(hog.pid!)?.nice === 9 ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        intervalMs: 5,
        what: "host nice 9",
      });
      expect(control.stop(hog.pid!)).toBe(true);
      await until(hog.pid!, true, "the hog stopped again");
    } finally {
      control.close();
    }
    await until(hog.pid!, false, "the hog continued by the agent when the connection closed");
  });

  it("cpu agent - refuses root's processes, its own, and garbage, whatever the connection asks", async () => {
    const rootish = burner(me === 0 ? 0 : undefined);
    const c = createConnection(sock);
    await new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
    });
    c.write(`stop ${rootish.pid}\nstop 1\nstop ${agent.pid}\nstop -5\nfreeze ${rootish.pid}\nstop abc\n`);
    // A line longer than any command ends the connection, after the lines before it were
    // acted on (in order); the agent serves on.
    const closed = new Promise((r) => c.once("close", r));
    c.write("x".repeat(200));
    await closed;
    if (me === 0) expect(state(rootish.pid!)).not.toBe("T");
    expect(state(agent.pid!)).not.toBe("T");
    expect(agent.exitCode).toBeNull();
    const hog = burner(hogUid);
    const again = new AgentControl(sock, parseUids(`kernel=${me},hog=${hogUid}`));
    try {
      await waitUntil(() => (again.verify(hog.pid!, "hog") && again.stop(hog.pid!) ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        what: "the agent serving a new connection",
      });
      await until(hog.pid!, true, "the hog stopped through the new connection");
    } finally {
      again.close();
    }
  });
});
