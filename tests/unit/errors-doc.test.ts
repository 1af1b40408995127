// The errno registry and docs/errors.md name the same errors with the same codes; the
// local error registry and the doc's second table hold the same rows, cell for cell.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Errno, MkError } from "#abi";
import { LocalErrors, type LocalCode, type LocalErrorInfo } from "#base/errors.ts";

const doc = readFileSync(join(import.meta.dirname, "../../docs/errors.md"), "utf8");
const rows = [...doc.matchAll(/^\| `([A-Z0-9]+)` \| (-?\d+) \|/gm)].map((m) => [m[1], Number(m[2])] as const);
/** The local errors table: each row by its code, as written. */
const localRows = new Map([...doc.matchAll(/^\| `(MK_ERR_[A-Z0-9_]+)` \|.*\|$/gm)].map((m) => [m[1], m[0]] as const));

/** The doc row a registry entry must have (paste it from a failure). */
function localRow(code: string, r: LocalErrorInfo): string {
  return `| \`${code}\` | ${r.raisedBy} | ${r.exit} | ${r.errno ? `\`${r.errno}\`` : "—"} | ${r.meaning} | ${r.action} |`;
}

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
    const e = MkError.fromStatus(Errno.EDEADSRCDST, "ata#1 is dead", { label: "ata", got: 1 });
    expect(e).toMatchObject({ errno: "EDEADSRCDST", code: -105, name: "MkError", detail: { label: "ata", got: 1 } });
    expect(MkError.fromStatus(-9999, "x").errno).toBe("EIO");
  });

  it("errors - every local error in the registry is documented, cell for cell", () => {
    for (const [code, r] of Object.entries(LocalErrors)) {
      for (const cell of [r.raisedBy, r.meaning, r.action]) expect(cell, `${code}: a table cell cannot hold |`).not.toContain("|");
      expect(localRows.get(code), `docs/errors.md, Local errors: the row for ${code} should read\n${localRow(code, r)}\n`).toBe(
        localRow(code, r),
      );
    }
  });

  it("errors - docs/errors.md names no local error the registry lacks", () => {
    for (const code of localRows.keys())
      expect(Object.hasOwn(LocalErrors, code), `${code} is documented but not in kernel-core/base/errors.ts`).toBe(true);
    expect(localRows.size).toBe(Object.keys(LocalErrors).length);
    for (const code of Object.keys(LocalErrors) as LocalCode[]) expect(code in Errno, `${code} is also an errno name`).toBe(false);
  });
});
