// The edge decoders never let anything but a checked value or an EBADREQUEST through.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addHop,
  decodeKind,
  decodeRawArgs,
  decodeStatus,
  decodeType,
  Layouts,
  MkError,
  parseEndpoint,
  parseHops,
  parseRequestArgs,
  type LayoutType,
} from "#abi";
import { Machine } from "../../hardware-emulator/src/index.ts";
import { testMachine } from "../helpers/machine.ts";

function onlyBadRequest(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MkError);
    expect((e as MkError).errno).toBe("EBADREQUEST");
  }
}

const headerValue = fc.oneof(fc.string(), fc.integer().map(String), fc.json(), fc.constant(undefined));

describe("decoders", () => {
  it("decoders - any header values decode to a valid envelope field or EBADREQUEST", () => {
    fc.assert(
      fc.property(headerValue, headerValue, headerValue, headerValue, (type, kind, args, status) => {
        const get = (name: string) => ({ "Mk-Type": type, "Mk-Kind": kind, "Mk-Args": args, "Mk-Status": status })[name];
        onlyBadRequest(() => decodeType(get));
        onlyBadRequest(() => decodeKind(get));
        onlyBadRequest(() => decodeRawArgs(get));
        onlyBadRequest(() => decodeStatus(get));
      }),
      { numRuns: 2000 },
    );
  });

  it("decoders - any JSON value checked against any layout passes only if it fits the shape", () => {
    const types = Object.keys(Layouts).map(Number) as LayoutType[];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.jsonValue(), (type, raw) => {
        onlyBadRequest(() => {
          const args = parseRequestArgs(type, raw);
          for (const key of Object.keys(args)) expect(Object.keys(Layouts[type].req)).toContain(key);
        });
      }),
      { numRuns: 3000 },
    );
  });

  it("decoders - a vdevio vector is accepted exactly when every count is bounded: 65536 units per string op, 256 KiB in all", () => {
    const op = fc.constantFrom("inb", "inw", "outb", "outw", "insw", "outsw", "insl", "outsb");
    const value = fc.oneof(
      fc.integer({ min: 0, max: 2048 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(65535, 65536, 65537, 2 ** 32 - 1),
    );
    const width: Record<string, number> = { b: 1, w: 2, l: 4 };
    fc.assert(
      fc.property(fc.array(fc.tuple(op, fc.integer({ min: 0, max: 0xffff }), value), { maxLength: 256 }), (ops) => {
        const strings = ops.filter(([o]) => o.startsWith("ins") || o.startsWith("outs"));
        const total = strings.reduce((n, [o, , v]) => n + v * width[o[o.length - 1]], 0);
        const ok = strings.every(([, , v]) => v <= 65536) && total <= 256 * 1024;
        if (ok) expect(parseRequestArgs(0x617, { ops })).toEqual({ ops });
        else
          expect(() => parseRequestArgs(0x617, { ops })).toThrow(
            /argument ops: (operation \d+ \(\w+\) moves \d+ units|the vector moves \d+ bytes)/,
          );
      }),
      { numRuns: 300 },
    );
  });

  it("decoders - a bad argument deep in a vector is named by its path; inherited names are not arguments", () => {
    const refusal = (raw: unknown) => {
      try {
        parseRequestArgs(0x617, raw);
      } catch (e) {
        return (e as MkError).message;
      }
      return "accepted";
    };
    expect(
      refusal({
        ops: [
          ["outb", 0x1f6, 0xe0],
          ["inb", "0x1f7", 0],
        ],
      }),
    ).toBe('argument ops[1][1]: expected an integer, got "0x1f7"');
    expect(
      refusal({
        ops: [
          ["outb", 0x1f6, 0xe0],
          ["inb", 0x1f7],
        ],
      }),
    ).toBe("argument ops[1]: expected a list of 3, got a list");
    expect(refusal({ ops: [["rep movsb", 0, 0]] })).toMatch(/^argument ops\[0\]\[0\]: expected one of /);
    expect(refusal({ ops: [], constructor: 1 })).toBe("argument constructor: unknown argument");
    expect(refusal(JSON.parse('{"ops":[],"__proto__":{"x":1}}'))).toBe("argument __proto__: unknown argument");
    expect(refusal(null)).toBe("argument (root): expected an object, got null");
  });

  it("decoders - a hop trail reads back what addHop wrote, and any other text reads without throwing", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}(#[1-9][0-9]{0,3})?$/), fc.integer({ min: 1, max: 2 ** 52 })), {
          maxLength: 8,
        }),
        (hops) => {
          let trail: string | undefined;
          for (const [who, us] of hops) trail = addHop(trail, who, us);
          expect(parseHops(trail)).toEqual(hops.map(([who, us]) => ({ who, us })));
        },
      ),
    );
    fc.assert(fc.property(fc.string(), (s) => void expect(() => parseHops(s)).not.toThrow()));
    expect(parseHops("client@12,garbage,@5,kernel@x,ata#2@30")).toEqual([
      { who: "client", us: 12 },
      { who: "ata#2", us: 30 },
    ]);
  });

  it("decoders - endpoint names parse only as label or label#generation", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (s) => {
        const ep = parseEndpoint(s);
        if (ep) expect(s === ep.label || s === `${ep.label}#${ep.generation}`).toBe(true);
      }),
    );
    expect(parseEndpoint("ata#3")).toEqual({ label: "ata", generation: 3 });
    expect(parseEndpoint("ata#0")).toBeUndefined();
  });

  it("decoders - the emulated bus executes any port vector without throwing anything but EBADREQUEST", () => {
    const t = testMachine(64);
    try {
      const op = fc.constantFrom("inb", "inw", "inl", "outb", "outw", "outl", "insb", "insw", "outsb", "outsw");
      const port = fc.oneof(
        fc.integer({ min: 0x1f0, max: 0x1f7 }),
        fc.constantFrom(0x3f6, 0x3f8, 0x3fd, 0x40, 0x43, 0x70, 0x71),
        fc.integer({ min: 0, max: 0xffff }),
      );
      fc.assert(
        fc.property(
          fc.array(fc.tuple(op, port, fc.integer({ min: 0, max: 600 })), { maxLength: 20 }),
          fc.uint8Array({ maxLength: 4096 }),
          (ops, body) => {
            onlyBadRequest(() => t.m.exec(ops, body));
          },
        ),
        { numRuns: 1000 },
      );
      expect(t.m).toBeInstanceOf(Machine);
    } finally {
      t.dispose();
    }
  });
});
