// The errno registry and docs/errors.md name the same errors with the same codes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Errno, MkError } from "#abi";

const doc = readFileSync(join(import.meta.dirname, "../../docs/errors.md"), "utf8");
const rows = [...doc.matchAll(/^\| `([A-Z0-9]+)` \| (-?\d+) \|/gm)].map((m) => [m[1], Number(m[2])] as const);

describe("errors", () => {
  it("errors - every errno in the registry is documented with its code", () => {
    for (const [name, code] of Object.entries(Errno)) {
      expect(rows, `${name} missing from docs/errors.md`).toContainEqual([name, code]);
    }
  });

  it("errors - docs/errors.md names no errno the registry lacks", () => {
    for (const [name, code] of rows) expect(Errno[name as keyof typeof Errno], name).toBe(code);
    expect(rows.length).toBe(Object.keys(Errno).length);
  });

  it("errors - codes are unique and an error rebuilt from its status keeps its name", () => {
    expect(new Set(Object.values(Errno)).size).toBe(Object.keys(Errno).length);
    const e = MkError.fromStatus(Errno.EDEADSRCDST, "ata#1 is dead");
    expect(e).toMatchObject({ errno: "EDEADSRCDST", code: -105, message: "ata#1 is dead", name: "MkError" });
    expect(MkError.fromStatus(-9999, "x").errno).toBe("EIO");
  });
});
