// The envelope on the wire: what headers a message carries and how they are parsed.
// Transport-neutral: callers hand in a header getter, so this file imports no NATS.
import { MkError, parseErrDetail } from "./errno.ts";
import { hasLayout, Layouts, type LayoutType, type RepArgs, type ReqArgs } from "./messages.ts";
import { parseShape } from "./schema.ts";
import { NOTIFY_MESSAGE } from "./com.ts";
import { H, HEADER_MAX, Kind, MAX_ARGS, MAX_BODY } from "./types.ts";

export type HeaderGet = (name: string) => string | undefined;

/** Mk-Args for an object of arguments; undefined (no header) for none, an empty object, or what is not an object. */
export function encodeArgs(args: unknown): string | undefined {
  if (typeof args !== "object" || args === null) return undefined;
  for (const _ in args) return JSON.stringify(args);
  return undefined;
}

/** A bounded field: longer than HEADER_MAX allows is EBADREQUEST naming the field. */
export function boundedField(get: HeaderGet, name: keyof typeof HEADER_MAX): string | undefined {
  const v = get(name);
  if (v !== undefined && v.length > HEADER_MAX[name]) {
    throw new MkError("EBADREQUEST", `${name} longer than ${HEADER_MAX[name]} characters (${v.length})`, {
      detail: { arg: name, limit: HEADER_MAX[name], got: v.length },
    });
  }
  return v;
}

const REQ_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Mk-Req, the id a request keeps across hops; undefined when the sender gave none. */
export function decodeReqId(get: HeaderGet): string | undefined {
  const v = boundedField(get, H.req);
  if (v !== undefined && !REQ_ID.test(v))
    throw new MkError("EBADREQUEST", `${H.req} ${JSON.stringify(v.slice(0, 16))} is not 1..64 of [A-Za-z0-9._:-]`);
  return v;
}

/** Mk-Hops as received on a request: bounded, else EBADREQUEST. */
export function decodeHops(get: HeaderGet): string | undefined {
  return boundedField(get, H.hops);
}

/** Mk-Calls as received on a reply: over the bound it is dropped, never copied on. */
export function replyCalls(get: HeaderGet): string | undefined {
  const v = get(H.calls);
  return v !== undefined && v.length <= HEADER_MAX[H.calls] ? v : undefined;
}

/** The Mk-Calls header for these trails: whole trails only, as many as fit its bound. */
export function encodeCalls(trails: readonly string[]): string | undefined {
  let out = "";
  for (const t of trails) {
    const next = out ? `${out};${t}` : t;
    if (next.length > HEADER_MAX[H.calls]) break;
    out = next;
  }
  return out || undefined;
}

/** Mk-Hops as received on a reply: a trail over the bound is dropped, never copied on. */
export function replyHops(get: HeaderGet): string | undefined {
  const v = get(H.hops);
  return v !== undefined && v.length <= HEADER_MAX[H.hops] ? v : undefined;
}

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** traceparent (W3C): accepted only in its exact form; anything else starts a new trace. */
export function decodeTrace(get: HeaderGet): string | undefined {
  const v = get(H.trace);
  return v !== undefined && TRACEPARENT.test(v) ? v : undefined;
}

/** Parses Mk-Type. Unknown or malformed types are EBADREQUEST. */
export function decodeType(get: HeaderGet): LayoutType | typeof NOTIFY_MESSAGE {
  const raw = get(H.type);
  if (raw === undefined || raw === "") throw new MkError("EBADREQUEST", `missing ${H.type} header`, { detail: { arg: H.type } });
  if (!/^[0-9]{1,6}$/.test(raw))
    throw new MkError("EBADREQUEST", `${H.type} ${JSON.stringify(raw.slice(0, 16))} is not a decimal number`, { detail: { arg: H.type } });
  const type = Number(raw);
  if (type === NOTIFY_MESSAGE) return type;
  if (!hasLayout(type))
    throw new MkError("EBADREQUEST", `unknown message type 0x${type.toString(16)}`, { detail: { arg: H.type, got: type } });
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
  if (raw.length > MAX_ARGS)
    throw new MkError("EBADREQUEST", `${H.args} longer than ${MAX_ARGS} characters`, {
      detail: { arg: H.args, limit: MAX_ARGS, got: raw.length },
    });
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new MkError("EBADREQUEST", `${H.args} is not valid JSON`, { detail: { arg: H.args } });
  }
}

export function checkBody(body: Uint8Array): void {
  if (body.length > MAX_BODY)
    throw new MkError("EBADREQUEST", `body of ${body.length} bytes exceeds ${MAX_BODY}`, {
      detail: { arg: "body", limit: MAX_BODY, got: body.length },
    });
}

/** Checks a request's arguments against its layout. */
export function parseRequestArgs<T extends LayoutType>(type: T, raw: unknown): ReqArgs<T> {
  const layout: Layouts[T] = Layouts[type];
  return parseShape<Layouts[T]["req"]>(layout.req, raw);
}

export function parseReplyArgs<T extends LayoutType>(type: T, raw: unknown): RepArgs<T> {
  const layout: Layouts[T] = Layouts[type];
  return parseShape<Layouts[T]["rep"]>(layout.rep, raw);
}

/** Reads Mk-Status of a reply; a missing status is a malformed reply. */
export function decodeStatus(get: HeaderGet): number {
  const raw = get(H.status);
  if (raw === undefined || !/^-?[0-9]{1,4}$/.test(raw)) throw new MkError("EBADREQUEST", `reply without a valid ${H.status} header`);
  return Number(raw);
}

/** Rebuilds an error reply into an MkError (errors travel in headers; the text is bounded, the detail checked field by field). */
export function decodeError(get: HeaderGet, status: number): MkError {
  return MkError.fromStatus(status, headerSafe(get(H.errmsg) ?? ""), parseErrDetail(get(H.errdetail)));
}

/** Header values may not hold CR/LF: keep error text on one line and bounded. */
export function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, " ").slice(0, HEADER_MAX[H.errmsg]);
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

/**
 * Appends one hop (`who@epoch-µs`) to the trail. A trail that would outgrow its bound
 * starts again from this hop: what a party copies never grows without limit.
 */
export function addHop(prev: string | undefined, who: string, nowUs: number): string {
  const hop = `${who}@${Math.round(nowUs)}`;
  return prev && prev.length + hop.length < HEADER_MAX[H.hops] ? `${prev},${hop}` : hop;
}
