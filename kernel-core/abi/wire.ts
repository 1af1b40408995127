// The envelope on the wire: what headers a message carries and how they are parsed.
// Transport-neutral: callers hand in a header getter, so this file imports no NATS.
import { MkError } from "./errno.ts";
import { hasLayout, Layouts, type LayoutType } from "./messages.ts";
import { parseShape } from "./schema.ts";
import { H, Kind, MAX_ARGS, MAX_BODY, type Args } from "./types.ts";

export type HeaderGet = (name: string) => string | undefined;

export function encodeArgs(args: Args | undefined): string | undefined {
  if (args === undefined) return undefined;
  for (const _ in args) return JSON.stringify(args);
  return undefined;
}

/** Parses Mk-Type. Unknown or malformed types are EBADREQUEST. */
export function decodeType(get: HeaderGet): LayoutType | 0x1000 {
  const raw = get(H.type);
  if (raw === undefined || raw === "") throw new MkError("EBADREQUEST", `missing ${H.type} header`);
  if (!/^[0-9]{1,6}$/.test(raw)) throw new MkError("EBADREQUEST", `${H.type} ${JSON.stringify(raw.slice(0, 16))} is not a decimal number`);
  const type = Number(raw);
  if (type === 0x1000) return type;
  if (!hasLayout(type)) throw new MkError("EBADREQUEST", `unknown message type 0x${type.toString(16)}`);
  return type;
}

export function decodeKind(get: HeaderGet): Kind {
  const raw = get(H.kind) ?? Kind.SENDREC;
  if (raw !== Kind.SENDREC && raw !== Kind.SEND && raw !== Kind.NOTIFY) {
    throw new MkError("EBADREQUEST", `${H.kind} ${JSON.stringify(raw.slice(0, 16))} is not sendrec|send|notify`);
  }
  return raw;
}

/** Parses Mk-Args as JSON, without checking its shape. */
export function decodeRawArgs(get: HeaderGet): unknown {
  const raw = get(H.args);
  if (raw === undefined || raw === "") return {};
  if (raw.length > MAX_ARGS) throw new MkError("EBADREQUEST", `${H.args} longer than ${MAX_ARGS} characters`);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new MkError("EBADREQUEST", `${H.args} is not valid JSON`);
  }
}

export function checkBody(body: Uint8Array): void {
  if (body.length > MAX_BODY) throw new MkError("EBADREQUEST", `body of ${body.length} bytes exceeds ${MAX_BODY}`);
}

/** Checks a request's arguments against its layout. */
export function parseRequestArgs<T extends LayoutType>(type: T, raw: unknown): Args {
  return parseShape(Layouts[type].req, raw);
}

export function parseReplyArgs<T extends LayoutType>(type: T, raw: unknown): Args {
  return parseShape(Layouts[type].rep, raw);
}

/** Reads Mk-Status of a reply; a missing status is a malformed reply. */
export function decodeStatus(get: HeaderGet): number {
  const raw = get(H.status);
  if (raw === undefined || !/^-?[0-9]{1,4}$/.test(raw)) throw new MkError("EBADREQUEST", `reply without a valid ${H.status} header`);
  return Number(raw);
}

/** Rebuilds an error reply into an MkError (errors travel in headers). */
export function decodeError(get: HeaderGet, status: number): MkError {
  return MkError.fromStatus(status, get(H.errmsg) ?? "");
}

/** Header values may not hold CR/LF: keep error text on one line and bounded. */
export function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, " ").slice(0, 512);
}

export interface Hop {
  readonly who: string;
  readonly us: number; // epoch microseconds
}

/** Reads a hop trail; entries that are not `who@epoch-µs` are skipped, never thrown on. */
export function parseHops(trail: string | undefined): Hop[] {
  if (!trail) return [];
  const out: Hop[] = [];
  for (const entry of trail.split(",", 64)) {
    const at = entry.lastIndexOf("@");
    const us = Number(entry.slice(at + 1));
    if (at > 0 && Number.isFinite(us) && us > 0) out.push({ who: entry.slice(0, at), us });
  }
  return out;
}

/** Appends one hop (`who@epoch-µs`) to the trace header. */
export function addHop(prev: string | undefined, who: string, nowUs: number): string {
  const hop = `${who}@${Math.round(nowUs)}`;
  return prev ? `${prev},${hop}` : hop;
}
