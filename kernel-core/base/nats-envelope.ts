// The mkos envelope in a NATS header block, written and read directly. The wire format is
// NATS's own ("NATS/1.0[ code]\r\nName: value\r\n...\r\n\r\n"), so any NATS client can
// read it; only the JavaScript cost differs. nats.js's generic MsgHdrs scans every key on
// each get and set and splits, trims and re-canonicalises the whole block on each read;
// with it a trap round trip was 59 µs of JavaScript (all parties, `npm run bench:js`),
// with this codec 38 µs. Used by every NATS-facing part:
// libsys's transport and request multiplexer, kernel-core's link and hardware bus, and
// the hardware emulator.
import { MsgImpl } from "@nats-io/nats-core/internal";
import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { LocalError } from "./errors.ts";

const TD = new TextDecoder();
const NAME = /^[!-9;-~]+$/; // an RFC 7230 token without ':'
const LINE_BREAK = /[\r\n]/;
const STATUS_LINE = "NATS/1.0";

/** The envelope of an outgoing message. nats.js publishes it through `encode()`. */
export class Envelope implements MsgHdrs {
  private readonly names: string[] = [];
  private readonly vals: string[] = [];
  /** The encoded block, kept once built: the wire sizes a message before nats.js encodes it again. */
  private encoded?: Uint8Array;
  readonly hasError = false;
  readonly status = "";
  readonly code = 0;
  readonly description = "";

  /** Sets (or replaces) a field. A value with CR or LF would split the block: refused. */
  set(name: string, value: string): void {
    checkField(name, value);
    this.encoded = undefined;
    const i = this.names.indexOf(name);
    if (i < 0) {
      this.names.push(name);
      this.vals.push(value);
    } else {
      this.vals[i] = value;
    }
  }

  append(name: string, value: string): void {
    checkField(name, value);
    this.encoded = undefined;
    this.names.push(name);
    this.vals.push(value);
  }

  get(name: string): string {
    const i = this.names.indexOf(name);
    return i < 0 ? "" : this.vals[i];
  }

  last(name: string): string {
    const i = this.names.lastIndexOf(name);
    return i < 0 ? "" : this.vals[i];
  }

  has(name: string): boolean {
    return this.names.includes(name);
  }

  keys(): string[] {
    return [...new Set(this.names)];
  }

  values(name: string): string[] {
    return this.vals.filter((_, i) => this.names[i] === name);
  }

  delete(name: string): void {
    this.encoded = undefined;
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] === name) {
        this.names.splice(i, 1);
        this.vals.splice(i, 1);
      }
    }
  }

  *[Symbol.iterator](): IterableIterator<[string, string[]]> {
    for (const name of this.keys()) yield [name, this.values(name)];
  }

  /** The header block as it goes on the wire. */
  encode(): Uint8Array {
    if (this.encoded) return this.encoded;
    let s = STATUS_LINE;
    for (let i = 0; i < this.names.length; i++) s += `\r\n${this.names[i]}: ${this.vals[i]}`;
    // Buffer.from, not TextEncoder: on Node 24 it is ~10x cheaper for a short string.
    return (this.encoded = Buffer.from(`${s}\r\n\r\n`, "utf8"));
  }
}

const checkedNames = new Set<string>();

function checkField(name: string, value: string): void {
  if (!checkedNames.has(name)) {
    if (!NAME.test(name))
      throw new LocalError("MK_ERR_BAD_HEADER", `header name ${JSON.stringify(name.slice(0, 32))} is not a token`, {
        detail: { arg: "name" },
      });
    if (checkedNames.size < 256) checkedNames.add(name);
  }
  if (LINE_BREAK.test(value)) throw new LocalError("MK_ERR_BAD_HEADER", `header ${name} holds CR or LF`, { detail: { arg: "value" } });
}

/** The envelope of a received message, read field by field. Missing or empty fields are undefined. */
export interface ReceivedEnvelope {
  /** The status code on the block's first line (503: no responders), else 0. */
  readonly code: number;
  /** A field's value; a plain function, so `const { get } = readEnvelope(m)` is the abi's HeaderGet. */
  readonly get: (name: string) => string | undefined;
}

/** Reads fields straight out of the block's text when asked: most readers ask for few. */
class BlockView implements ReceivedEnvelope {
  private readonly block: string;
  constructor(block: string) {
    this.block = block;
  }

  get code(): number {
    const eol = this.block.indexOf("\r\n");
    const first = eol < 0 ? this.block : this.block.slice(0, eol);
    if (!first.startsWith(STATUS_LINE)) return 0;
    const n = Number.parseInt(first.slice(STATUS_LINE.length).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : 0;
  }

  readonly get = (name: string): string | undefined => {
    const b = this.block;
    // Field lines start after a CRLF; the first match wins, as in nats.js.
    let at = b.indexOf(`\r\n${name}:`);
    if (at < 0) return undefined;
    at += name.length + 3;
    let end = b.indexOf("\r\n", at);
    if (end < 0) end = b.length;
    return b.slice(at, end).trim() || undefined;
  };
}

const NONE: ReceivedEnvelope = new BlockView("");

/**
 * Reads a received message's envelope. Messages from nats.js's protocol handler carry the
 * raw block (`MsgImpl`, from nats-core's documented internal entry point); anything else
 * falls back to the client's own header parsing, with the same result.
 */
export function readEnvelope(m: Msg): ReceivedEnvelope {
  if (m instanceof MsgImpl) {
    const len = m._msg.hdr;
    return len > 0 ? parseBlock(TD.decode(m._rdata.subarray(0, len))) : NONE;
  }
  const h = m.headers;
  if (!h) return NONE;
  return { code: h.code, get: (name) => h.get(name) || undefined };
}

/** A header block as text. Never throws: a missing or malformed field reads as undefined. */
export function parseBlock(block: string): ReceivedEnvelope {
  return new BlockView(block);
}
