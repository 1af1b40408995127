// The mkos shell on the serial console of a real process-mode system: rs starts it, it reads
// lines through tty and answers on the UART. The test types on the console's far end
// (mk.console.in, as the dashboard's terminal does) and reads what comes out
// (mk.console.out): the prompt, commands over the kernel, rs, vfs and ata, errors as
// `name: ERRNO: message`, bounds, and a tty restart the shell rides out.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { MkError, Subjects } from "#abi";
import { BdevClient, FsClient, systemClock, waitUntil, type RunningService } from "#libsys";
import { MAX_ARGS, PROMPT, tokenise } from "../../services/shell/src/index.ts";
import { bootTestSystem, readyGeneration, type TestSystem } from "../helpers/system.ts";

const ROOT = join(import.meta.dirname, "../..");

/** The shell as this test needs it, whatever the shipped table says of it. */
/** A second user program, to check through vfs and ata what the shell did. */
const CHECKER = `
  checker:
    ipc: [vfs, ata]
    calls: [getinfo]
    block: { ata: { raw: rw } }
`;

let ts: TestSystem;
let consoleLine: NatsConnection;
let checker: RunningService;
let fs: FsClient;
/** Everything the UART sent since the test connected. */
let screen = "";
let sentinel = 0;

/** Types on the console: at most 4096 bytes per message reach the UART, so longer text goes in pieces. */
function type(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length; off += 4000) consoleLine.publish(Subjects.consoleIn, bytes.subarray(off, off + 4000));
}

/**
 * Types a line and answers what the shell printed for it. An echo of a fresh word follows
 * the line, and the answer is what came out before that echo's prompt and word: an answer
 * with no output (mkdir) is a bare prompt, which the emulator's UART holds until a newline
 * follows (it hands output to the console a line at a time).
 */
async function sh(line: string): Promise<string> {
  const mark = screen.length;
  const word = `done-${++sentinel}`;
  type(`${line}\necho ${word}\n`);
  const end = `${PROMPT}${word}\n`;
  return waitUntil(
    () => {
      const s = screen.slice(mark);
      const at = s.indexOf(end);
      return at < 0 ? undefined : s.slice(0, at);
    },
    { clock: systemClock, deadlineMs: 30_000, intervalMs: 20, what: `the shell's answer to ${JSON.stringify(line.slice(0, 40))}` },
  );
}

beforeAll(async () => {
  ts = await bootTestSystem({
    services: CHECKER,
    demo: ["shell"],
  });
  consoleLine = await ts.raw("client");
  consoleLine.subscribe(Subjects.consoleOut, { callback: (_e, m) => void (screen += new TextDecoder().decode(m.data)) });
  await consoleLine.flush();
  checker = await ts.client("checker");
  fs = new FsClient(checker.sys);
}, 60_000);
afterAll(async () => {
  await ts?.down();
});

describe("shell", () => {
  it("shell - prints a prompt on the console and answers a line typed there", async () => {
    // Typed once: the line waits in tty until the shell (started by rs at boot) reads it.
    type("echo ready\n");
    await waitUntil(() => (screen.includes(`ready\n${PROMPT}`) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 30_000,
      intervalMs: 20,
      what: "the shell's answer and prompt on the console",
    });
    expect(await sh("echo hello")).toBe("hello\n");
    expect(await sh('echo   \'two  words\'  "and\\"more" # a comment')).toBe('two  words and"more\n');
    expect(await sh("")).toBe("");
  });

  it("shell - an unknown command is `command not found`, and the shell goes on", async () => {
    expect(await sh("frobnicate --now")).toBe("sh: frobnicate: command not found\n");
    expect(await sh("echo still here")).toBe("still here\n");
  });

  it("shell - a 5000-byte line is refused with E2BIG as one error, and the shell goes on", async () => {
    const out = await sh("x".repeat(5000));
    expect(out).toMatch(/^sh: E2BIG: [^\n]*\n$/);
    expect(await sh("echo after the long line")).toBe("after the long line\n");
    // Too many words, an unterminated quote: refused, never run.
    expect(await sh(`echo ${"w ".repeat(MAX_ARGS + 1)}`)).toMatch(/^sh: E2BIG: /);
    expect(await sh("echo 'open")).toMatch(/^sh: EINVAL: /);
  });

  it("shell - services lists what rs runs, ata running; ps the kernel's endpoints; uptime kernel-core's", async () => {
    const services = await sh("services");
    expect(services).toMatch(/^LABEL\s+STATE\s+PID\s+GEN\s+RESTARTS/);
    expect(services).toMatch(/^ata\s+running\s+\d+\s+\d+\s+\d+/m);
    expect(services).toMatch(/^shell\s+running/m);
    const ps = await sh("ps");
    expect(ps).toMatch(/^LABEL\s+PID\s+GEN\s+STATE/);
    expect(ps).toMatch(/^tty\s+\d+\s+\d+\s+ready\s+user/m);
    expect(ps).toMatch(/^kernel\s+\d+\s+1\s+ready\s+kernel/m);
    expect(await sh("uptime")).toMatch(/^\d\d:\d\d:\d\d {2}up 0 days, 00:\d\d:\d\d, {2}\d+ endpoints ready/);
    expect(await sh("uptime now")).toMatch(/^uptime: EINVAL: /);
  });

  it("shell - mkdir, cp, cat, ls and rm through vfs: what the shell does, another program sees", async () => {
    expect(await sh("mkdir /sh")).toBe("");
    await fs.writeFile("/sh/a.txt", "hello from the checker\n");
    expect(await sh("ls /")).toMatch(/^sh\/$/m);
    expect(await sh("cp /sh/a.txt /sh/b.txt")).toBe("");
    expect(await sh("cat /sh/b.txt")).toBe("hello from the checker\n");
    expect((await fs.readFile("/sh/b.txt")).toString()).toBe("hello from the checker\n");
    expect(await sh("ls /sh")).toBe("a.txt\nb.txt\n");
    expect(await sh("ls -l /sh")).toMatch(/^-rw-r--r--\s+1\s+23\s+a\.txt$/m);
    expect(await sh("rm /sh/b.txt")).toBe("");
    expect(await sh("ls /sh")).toBe("a.txt\n");
    await expect(fs.stat("/sh/b.txt")).rejects.toMatchObject({ errno: "ENOENT" });
    // Errors are one line each, named by errno.
    expect(await sh("cat /sh/b.txt")).toMatch(/^cat: ENOENT: [^\n]*\n$/);
    expect(await sh("mkdir /sh")).toMatch(/^mkdir: EEXIST: /);
    expect(await sh("rm /sh")).toMatch(/^rm: EISDIR: /);
    expect(await sh("cat /sh")).toMatch(/^cat: EISDIR: /);
    expect(await sh("cp /sh/a.txt")).toMatch(/^cp: EINVAL: /);
    // The root, however named, is never removed: vfs says /sh/.. is the root of a mount.
    expect(await sh("rm -r /sh/..")).toMatch(/^rm: EBUSY: /);
    expect(await sh("ls /sh")).toBe("a.txt\n");
    expect(await sh("rm -r /sh")).toBe("");
    await expect(fs.stat("/sh")).rejects.toMatchObject({ errno: "ENOENT" });
  });

  it("shell - cat's output is bounded at 64 KiB, then says it was truncated", async () => {
    await fs.writeFile("/big.txt", "0123456789abcde\n".repeat(8192)); // 128 KiB
    const out = await sh("cat /big.txt");
    expect(out.endsWith("… (truncated)\n")).toBe(true);
    expect(out.length).toBeLessThan(64 * 1024 + 100);
    await fs.unlink("/big.txt");
  });

  it("shell - dd reads raw sectors through ata: the CRC-32 and hexdump match what another program reads; writes to the disk are EBUSY", async () => {
    const disk = new BdevClient(checker.sys, "ata");
    const sectors = await disk.read(8, 2);
    const out = await sh("dd if=/dev/ata skip=8 count=2");
    expect(out).toMatch(/^2\+0 records in$/m);
    expect(out).toMatch(
      new RegExp(`^1024 bytes \\(2 sectors\\) copied in \\d+ ms, crc32 ${crc32(sectors).toString(16).padStart(8, "0")}$`, "m"),
    );
    const first = [...sectors.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    expect(out).toContain(`00000000  ${first}`);
    expect(await sh("dd if=/dev/ata of=/dev/ata")).toMatch(/^dd: EBUSY: /);
    expect(await sh("dd if=/etc/nothing of=/dev/ata")).toMatch(/^dd: EBUSY: /);
    expect(await sh("dd if=/dev/ata bs=100")).toMatch(/^dd: EINVAL: /);
    expect(await sh("dd if=/dev/ata count=100000000")).toMatch(/^dd: E(INVAL|FBIG): /);
    // A file copied with dd: the same bytes, by the same CRC.
    await fs.writeFile("/dd-src", Buffer.alloc(3000, 7));
    const copy = await sh("dd if=/dd-src of=/dd-dst bs=1024");
    expect(copy).toMatch(/^2\+1 records in\n2\+1 records out\n3000 bytes copied/);
    expect(Buffer.compare(await fs.readFile("/dd-dst"), Buffer.alloc(3000, 7))).toBe(0);
  });

  it("shell - chaos hw bad-sector makes that sector EIO for dd, and clear mends it", async () => {
    expect(await sh("chaos hw bad-sector 2000 1")).toBe("hw: bad-sector armed\n");
    expect(await sh("dd if=/dev/ata skip=2000")).toMatch(/^dd: EIO: /m);
    expect(await sh("dd if=/dev/ata skip=2001")).toMatch(/^1\+0 records in$/m);
    expect(await sh("chaos hw clear")).toBe("hw: cleared\n");
    expect(await sh("dd if=/dev/ata skip=2000")).toMatch(/^1\+0 records in$/m);
    expect(await sh("chaos hw melt")).toMatch(/^chaos: EINVAL: /);
  });

  it("shell - chaos ata crash: ata dies, rs restarts it, and dd still reads through the next generation", async () => {
    const before = await readyGeneration(checker, "ata");
    expect(await sh("chaos ata crash")).toBe("ata: crashed\n");
    await waitUntil(async () => ((await readyGeneration(checker, "ata")) > before ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next ata",
    });
    expect(await sh("dd if=/dev/ata skip=8")).toMatch(/^1\+0 records in$/m);
    expect(await sh("services")).toMatch(/^ata\s+running\s+\d+\s+\d+\s+[1-9]/m);
    // Corrupted replies are caught by their checksum and read again: dd still sees the disk's bytes.
    const crc = crc32(await new BdevClient(checker.sys, "ata").read(8, 1))
      .toString(16)
      .padStart(8, "0");
    expect(await sh("chaos ata corrupt 2")).toBe("ata: the next 2 replies corrupted\n");
    expect(await sh("dd if=/dev/ata skip=8")).toContain(`crc32 ${crc}`);
    expect(await sh("chaos ata clear")).toBe("ata: faults cleared\n");
    expect(await sh("chaos ata explode")).toMatch(/^chaos: EINVAL: /);
    expect(await sh("chaos client crash")).toMatch(/^chaos: ECALLDENIED: /);
  });

  it("shell - chaos sched hang blocks its event loop past two heartbeats: rs finds the hang and starts the next sched", async () => {
    const before = await readyGeneration(checker, "sched");
    expect(await sh("chaos sched hang")).toBe("sched: event loop blocked for 5000 ms\n");
    await waitUntil(async () => ((await readyGeneration(checker, "sched")) > before ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next sched after the hang",
    });
    expect(await sh("services")).toMatch(/^sched\s+running.*heartbeat/m);
  });

  it("shell - kill signals a service's own process through kernel-core; kernel-core itself is EPERM", async () => {
    const before = await readyGeneration(checker, "sched");
    const pid = ts.sys.pidOf("sched");
    expect(await sh("kill -s KILL sched")).toBe(`sched: SIGKILL sent to pid ${pid}\n`);
    await waitUntil(async () => ((await readyGeneration(checker, "sched")) > before ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next sched",
    });
    expect(await sh("kill -KILL kernel")).toMatch(/^kill: EPERM: /);
    expect(await sh("kill -s HUP sched")).toMatch(/^kill: EINVAL: /);
    expect(await sh("kill nobody")).toMatch(/^kill: EBADSRCDST: /);
    // The dashboard's chaos panel's words work here too.
    const again = await readyGeneration(checker, "sched");
    expect(await sh("chaos sched kill")).toMatch(/^sched: SIGKILL sent to pid \d+\n$/);
    await waitUntil(async () => ((await readyGeneration(checker, "sched")) > again ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next sched after chaos sched kill",
    });
  });

  it("shell - tty killed: the shell follows the next tty, prompts there, and answers", async () => {
    const before = await readyGeneration(checker, "tty");
    const mark = screen.length;
    ts.sys.kill("tty", "SIGKILL");
    await waitUntil(async () => ((await readyGeneration(checker, "tty")) > before ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next tty",
    });
    await waitUntil(() => (screen.slice(mark).includes(`]\n${PROMPT}`) ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the shell's prompt on the new tty",
    });
    expect(screen.slice(mark)).toContain(`[tty#${before + 1}]`);
    expect(await sh("echo after tty restart")).toBe("after tty restart\n");
  });

  it("shell - a line typed while tty is down stays in the UART and is answered through the next tty", async () => {
    const before = await readyGeneration(checker, "tty");
    ts.sys.kill("tty", "SIGSTOP"); // no driver drains the UART from here on
    const mark = screen.length;
    type("echo typed-while-tty-was-down\n");
    ts.sys.kill("tty", "SIGKILL");
    await waitUntil(async () => ((await readyGeneration(checker, "tty")) > before ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the next tty",
    });
    await waitUntil(() => (screen.slice(mark).includes("typed-while-tty-was-down\n") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 20_000,
      what: "the shell's answer to the line typed while tty was down",
    });
  });

  it("shell - mkctl console from a pipe: the lines reach the shell and its answers come back on standard output", async () => {
    // Not spawnSync: the console's output must reach this file's screen as it comes, not in
    // the next test's answer.
    const child = spawn(
      process.execPath,
      [join(ROOT, "services/mkctl/src/main.ts"), "console", "--quiet", "1500", "--run-dir", ts.sys.state.runDir],
      { stdio: ["pipe", "pipe", "pipe"], timeout: 60_000 },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end("echo via-mkctl-console\nservices\n");
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on("close", resolve);
      child.on("error", reject);
    }).finally(() => child.kill("SIGKILL"));
    expect(status, stderr).toBe(0);
    expect(stdout).toContain("via-mkctl-console\n");
    expect(stdout).toMatch(/\bata\b.*\brunning\b/);
    await sh("echo drained"); // whatever the shell still printed for mkctl is on the screen before the next test marks it
  });

  it("shell - help lists every command", async () => {
    const out = await sh("help");
    for (const name of ["help", "echo", "uptime", "ps", "services", "kill", "chaos", "dd", "ls", "cat", "cp", "mkdir", "rm"])
      expect(out).toMatch(new RegExp(`^ {2}${name}\\s`, "m"));
    expect(await sh("help dd")).toMatch(/^dd if=/);
  });
});

describe("shell - parse", () => {
  it("shell - tokenise splits on blanks, honours quotes and escapes, and bounds the line", () => {
    expect(tokenise('  ls   -l /a\\ b \'c d\' "e\\"f" # note')).toEqual(["ls", "-l", "/a b", "c d", 'e"f']);
    expect(tokenise("")).toEqual([]);
    expect(tokenise("echo ''")).toEqual(["echo", ""]);
    const errno = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof MkError ? e.errno : "not an MkError";
      }
      return "no error";
    };
    expect(errno(() => tokenise("x".repeat(1025)))).toBe("E2BIG");
    expect(tokenise("x".repeat(1024))).toHaveLength(1);
    expect(errno(() => tokenise("a ".repeat(MAX_ARGS + 1)))).toBe("E2BIG");
    expect(tokenise("a ".repeat(MAX_ARGS))).toHaveLength(MAX_ARGS);
    expect(errno(() => tokenise('echo "open'))).toBe("EINVAL");
    expect(errno(() => tokenise("echo a\0b"))).toBe("EINVAL");
  });
});
