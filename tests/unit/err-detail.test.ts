// An error's structured detail (Mk-Err-Detail): it crosses the wire and is rebuilt on the
// other side; from a hostile party it is bounded and checked field by field, never trusted.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeError, encodeErrDetail, ERR_DETAIL_MAX, Errno, H, MkError, parseErrDetail } from "#abi";
import { errorEnvelope } from "#base/wire.ts";

const headers = (h: Record<string, string>) => (name: string) => h[name];

describe("error detail", () => {
  it("err detail - an error's detail survives the trip: the envelope a server sends, decoded by the caller", () => {
    const e = new MkError("EPERM", "devio: port 0x60 not allowed for ata", { detail: { arg: "devio", port: 0x60, label: "ata" } });
    const env = errorEnvelope(e);
    const back = decodeError((n) => env.get(n), e.code);
    expect(back).toMatchObject({ errno: "EPERM", detail: { arg: "devio", port: 0x60, label: "ata" } });
    // No detail: no header, and none rebuilt.
    const plain = errorEnvelope(new MkError("EIO", "x"));
    expect(plain.keys()).not.toContain(H.errdetail);
    expect(decodeError((n) => plain.get(n), Errno.EIO).detail).toBeUndefined();
  });

  it("err detail - a hostile Mk-Err-Detail is dropped or trimmed to the known fields, never thrown on (fast-check)", () => {
    for (const raw of [
      "",
      "{",
      "[]",
      "null",
      "42",
      '"s"',
      '{"arg": 5}',
      '{"port": "0x60"}',
      '{"port": 1.5}',
      `{"arg": "${"a".repeat(65)}"}`,
      '{"arg": "a\\nb"}',
      " ".repeat(ERR_DETAIL_MAX + 1),
    ]) {
      expect(parseErrDetail(raw), raw).toBeUndefined();
    }
    // Unknown keys go; known ones in their bounds stay.
    expect(parseErrDetail('{"arg":"lba","__proto__":{"x":1},"evil":"y","limit":8}')).toEqual({ arg: "lba", limit: 8 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.json({ maxDepth: 3 })), (raw) => {
        const d = parseErrDetail(raw);
        if (d === undefined) return;
        expect(Object.keys(d).every((k) => ["arg", "port", "irq", "label", "limit", "got"].includes(k))).toBe(true);
        for (const v of Object.values(d)) {
          if (typeof v === "string") expect(v.length).toBeLessThanOrEqual(64);
          else expect(Number.isSafeInteger(v)).toBe(true);
        }
        // What is kept travels again unchanged.
        expect(parseErrDetail(encodeErrDetail(d))).toEqual(d);
      }),
      { numRuns: 500 },
    );
    // A reply whose detail is junk is still an error with its errno: only the detail is lost.
    expect(decodeError(headers({ [H.errmsg]: "no", [H.errdetail]: "{junk" }), Errno.ENOENT)).toMatchObject({
      errno: "ENOENT",
      detail: undefined,
    });
  });
});
