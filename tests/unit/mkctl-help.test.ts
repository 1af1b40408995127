// mkctl's command line as a newcomer meets it: each command has its own short help, and a
// wrong option is named, with where to look, not Node's parser text.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../services/mkctl/src/help.ts";

const ROOT = join(import.meta.dirname, "../..");
const mkctl = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), ...args], { encoding: "utf8", timeout: 30_000 });

describe("mkctl's help", () => {
  it("mkctl help - every command main.ts dispatches has its own help: usage, what it does, an example", () => {
    const dispatched = [...readFileSync(join(ROOT, "services/mkctl/src/main.ts"), "utf8").matchAll(/case "([a-z-]+)":/g)].map((m) => m[1]);
    expect(dispatched.length).toBeGreaterThan(15);
    expect(dispatched.filter((c) => !COMMANDS.includes(c))).toEqual([]);
  });

  it("mkctl help - `mkctl ps --help` and `mkctl help ps` print ps's help alone, not the overview", () => {
    const overview = mkctl("--help");
    expect(overview.status).toBe(0);
    for (const r of [mkctl("ps", "--help"), mkctl("help", "ps")]) {
      expect(r.status).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^usage: mkctl ps /);
      expect(lines.length).toBeLessThan(overview.stdout.split("\n").length / 2);
      expect(r.stdout).toMatch(/\nexample:\n {2}\S/);
      expect(lines.every((l) => l.length <= 120)).toBe(true);
    }
    expect(mkctl("help", "nosuch").status).toBe(64);
  });

  it("mkctl help - an unknown option or a missing value is a usage error (64) that names the option and the command's help", () => {
    for (const [args, option] of [
      [["up", "--bogus"], "--bogus"],
      [["events", "--for"], "--for"],
    ] as const) {
      const r = mkctl(...args);
      expect(r.status).toBe(64);
      const line = r.stderr.trimEnd();
      expect(line.split("\n")).toHaveLength(1);
      expect(line).toContain(option);
      expect(line).toContain(`mkctl ${args[0]} --help`);
      // Quotes come in pairs (Node's own text left one open).
      expect((line.match(/'/g) ?? []).length % 2).toBe(0);
    }
  });
});
