// mkctl logs: a process-mode system's log files as `docker compose logs` shows a stack's,
// followed on an injected clock (no sleeping).
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "#base/clock.ts";
import { logsCommand } from "../../services/mkctl/src/logs-command.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mkos-logs-"));
  writeFileSync(join(dir, "ata.log"), "a1\na2\na3\n");
  writeFileSync(join(dir, "kernel.log"), "k1\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const never = new Promise<void>(() => undefined);
const flush = () => new Promise((r) => setImmediate(r));

describe("mkctl logs", () => {
  it("mkctl logs - one part's lines as they are; several parts each prefixed with its name; --tail N from each file's end", async () => {
    let out = "";
    const write = (s: string) => (out += s);
    await logsCommand(dir, { parts: ["ata"], follow: false, write, clock: new ManualClock(), stopped: never });
    expect(out).toBe("a1\na2\na3\n");
    out = "";
    await logsCommand(dir, { parts: [], follow: false, tail: "1", write, clock: new ManualClock(), stopped: never });
    expect(out).toBe("ata    | a3\nkernel | k1\n");
    // A part named twice is shown once; a last line without its newline is shown when not following.
    appendFileSync(join(dir, "kernel.log"), "k2-unfinished");
    out = "";
    await logsCommand(dir, { parts: ["kernel", "kernel"], follow: false, write, clock: new ManualClock(), stopped: never });
    expect(out).toBe("k1\nk2-unfinished\n");
  });

  it("mkctl logs - -f prints lines as they are appended, a line only once it is whole, and a restarted part's new file from its start", async () => {
    const clock = new ManualClock();
    let out = "";
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const done = logsCommand(dir, { parts: ["ata"], follow: true, tail: "0", write: (s) => (out += s), clock, stopped, pollMs: 200 });
    await flush();
    expect(out).toBe("");
    appendFileSync(join(dir, "ata.log"), "a4\na5-part");
    clock.advance(200);
    await flush();
    expect(out).toBe("a4\n");
    appendFileSync(join(dir, "ata.log"), "ial\n");
    clock.advance(200);
    await flush();
    expect(out).toBe("a4\na5-partial\n");
    writeFileSync(join(dir, "ata.log"), "new1\n"); // the part started again: a shorter file
    clock.advance(200);
    await flush();
    expect(out).toBe("a4\na5-partial\nnew1\n");
    stop();
    await done;
  });

  it("mkctl logs - a part with no log, a bad --tail or a run directory without logs is a clear error, and prints nothing", async () => {
    let out = "";
    const o = { follow: false, write: (s: string) => (out += s), clock: new ManualClock(), stopped: never };
    await expect(logsCommand(dir, { ...o, parts: ["ata", "nosuch"] })).rejects.toMatchObject({ code: "MK_ERR_UNKNOWN_PART" });
    for (const tail of ["-3", "1e3", "0x10", "", "1000001"])
      await expect(logsCommand(dir, { ...o, parts: [], tail })).rejects.toMatchObject({ code: "MK_ERR_USAGE" });
    await expect(logsCommand(join(dir, "nope"), { ...o, parts: [] })).rejects.toMatchObject({ code: "MK_ERR_NO_SYSTEM" });
    expect(out).toBe("");
  });
});
