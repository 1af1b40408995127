// The envelope codec writes and reads NATS header blocks that nats.js itself reads and
// writes alike, and never throws on a block that came off the wire.
import { MsgHdrsImpl, MsgImpl } from "@nats-io/nats-core/internal";
import { headers, type Msg } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Envelope, parseBlock, readEnvelope } from "#base/nats-envelope.ts";

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
// What a header value may hold: no CR/LF; nats.js trims, so no edge whitespace either.
const value = fc
  .string({ minLength: 1, maxLength: 64 })
  .map((s) => s.replace(/[\r\n]/g, "").trim())
  .filter((s) => s.length > 0);
const fields = fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, maxLength: 8 });

/** A message as nats.js's protocol handler builds it: header block then body in one buffer. */
function received(block: Uint8Array, body: Uint8Array = new Uint8Array(0)): Msg {
  const raw = new Uint8Array(block.length + body.length);
  raw.set(block);
  raw.set(body, block.length);
  const subject = new TextEncoder().encode("mk.ep.x.1");
  return new MsgImpl({ subject, sid: 1, hdr: block.length, size: raw.length }, raw, { publish: () => undefined });
}

describe("envelope", () => {
  it("envelope - what Envelope writes, nats.js reads field for field, and so does readEnvelope", () => {
    fc.assert(
      fc.property(fields, (fs) => {
        const e = new Envelope();
        for (const [n, v] of fs) e.set(n, v);
        const block = e.encode();
        const theirs = MsgHdrsImpl.decode(block);
        const ours = readEnvelope(received(block, new Uint8Array([1, 2, 3])));
        for (const [n, v] of fs) {
          expect(theirs.get(n)).toBe(v);
          expect(ours.get(n)).toBe(v);
        }
        expect(ours.get("Absent-Name")).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("envelope - what nats.js writes, readEnvelope reads field for field", () => {
    fc.assert(
      fc.property(fields, (fs) => {
        const h = headers();
        for (const [n, v] of fs) h.set(n, v);
        const ours = readEnvelope(received((h as MsgHdrsImpl).encode()));
        for (const [n, v] of fs) expect(ours.get(n)).toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it("envelope - the body after the block is untouched", () => {
    const e = new Envelope();
    e.set("Mk-Type", "1280");
    const body = new Uint8Array(512).map((_, i) => i & 0xff);
    const m = received(e.encode(), body);
    expect(readEnvelope(m).get("Mk-Type")).toBe("1280");
    expect(m.data).toEqual(body);
  });

  it("envelope - a no-responders status line reads as code 503; an ordinary block as 0", () => {
    expect(readEnvelope(received(new TextEncoder().encode("NATS/1.0 503\r\n\r\n"))).code).toBe(503);
    expect(readEnvelope(received(new TextEncoder().encode("NATS/1.0 503 No Responders\r\n\r\n"))).code).toBe(503);
    expect(readEnvelope(received(new Envelope().encode())).code).toBe(0);
  });

  it("envelope - set replaces a field, append adds one, delete removes every value", () => {
    const e = new Envelope();
    e.set("Mk-Hops", "a@1");
    e.set("Mk-Hops", "b@2");
    e.append("Mk-Note", "x");
    e.append("Mk-Note", "y");
    expect(e.get("Mk-Hops")).toBe("b@2");
    expect(e.values("Mk-Note")).toEqual(["x", "y"]);
    expect(e.last("Mk-Note")).toBe("y");
    expect([...e]).toEqual([
      ["Mk-Hops", ["b@2"]],
      ["Mk-Note", ["x", "y"]],
    ]);
    e.delete("Mk-Note");
    expect(e.has("Mk-Note")).toBe(false);
    expect(MsgHdrsImpl.decode(e.encode()).get("Mk-Hops")).toBe("b@2");
  });

  it("envelope - a value with CR or LF, or a name that is not a token, is refused before it reaches the wire", () => {
    const e = new Envelope();
    expect(() => e.set("Mk-Errmsg", "one\r\nMk-Src: forged")).toThrow(
      expect.objectContaining({ code: "MK_ERR_BAD_HEADER", detail: { arg: "value" } }),
    );
    expect(() => e.set("Mk Src", "x")).toThrow(expect.objectContaining({ code: "MK_ERR_BAD_HEADER", detail: { arg: "name" } }));
    expect(() => e.set("Mk-Src:", "x")).toThrow(expect.objectContaining({ code: "MK_ERR_BAD_HEADER", detail: { arg: "name" } }));
    expect(e.keys()).toEqual([]);
  });

  it("envelope - any text read as a block never throws, and names a field only if a line holds it", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), name, (text, n) => {
        const v = parseBlock(text);
        expect(() => v.code).not.toThrow();
        const got = v.get(n);
        if (got !== undefined) expect(text.includes(`\r\n${n}:`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("envelope - a message that is not nats.js's own falls back to its headers, with the same answers", () => {
    const h = headers();
    h.set("Mk-Status", "0");
    const m = { headers: h, data: new Uint8Array(0) } as unknown as Msg;
    expect(readEnvelope(m).get("Mk-Status")).toBe("0");
    expect(readEnvelope({ data: new Uint8Array(0) } as unknown as Msg).get("Mk-Status")).toBeUndefined();
  });
});
