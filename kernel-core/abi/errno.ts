// The one errno registry. Every error that crosses a process boundary is one of these,
// carried as a negative status with its stable name. docs/errors.md documents each one;
// tests/unit/errors-doc.test.ts keeps the two in step.

export const Errno = {
  OK: 0,
  EPERM: -1, // operation not permitted by the privilege table (port, IRQ line)
  ENOENT: -2, // no such file or directory
  ESRCH: -3, // no such process: the label has no live process to signal
  EIO: -5, // the device reported an error
  ENXIO: -6, // no such device or minor
  E2BIG: -7,
  EBADF: -9,
  EAGAIN: -11,
  ENOMEM: -12,
  EACCES: -13, // permission denied: a change asked of the dashboard without its token
  EFAULT: -14,
  EBUSY: -16,
  EEXIST: -17, // the name already exists
  EXDEV: -18, // a rename across two file systems
  ENODEV: -19,
  ENOTDIR: -20, // a path component, or the target, is not a directory
  EISDIR: -21, // the target is a directory
  EINVAL: -22,
  ENFILE: -23, // the file-system server's table of open files is full
  EMFILE: -24, // the caller's descriptor table is full
  EFBIG: -27, // past the largest file the format can hold
  ENOSPC: -28, // no free zone or inode
  EROFS: -30, // a read-only file system (/proc)
  EMLINK: -31, // too many links to one inode
  ENAMETOOLONG: -36, // a name over 60 bytes, a path over 4096 bytes or 128 names
  ENOSYS: -38,
  ENOTEMPTY: -39, // rmdir, or rename onto, a directory that has entries
  EMSGSIZE: -90,
  ETIMEDOUT: -110,
  ELOCKED: -101,
  EBADCALL: -102,
  EBADSRCDST: -103, // no such endpoint
  ECALLDENIED: -104, // kernel call or IPC target not granted to the caller
  EDEADSRCDST: -105, // source or destination incarnation is dead or stale
  ENOTREADY: -106,
  EBADREQUEST: -107, // malformed message: bad header, arguments, body size or type
  ETRAPDENIED: -111,
  ESTALE: -116, // a file handle whose inode was freed or reused
  EUCLEAN: -117, // the on-disk structure is damaged: mkctl fsck repairs it
} as const;
export type ErrnoName = keyof typeof Errno;
export type Errno = (typeof Errno)[ErrnoName];

const byCode = new Map<number, ErrnoName>((Object.entries(Errno) as [ErrnoName, number][]).map(([name, code]) => [code, name]));

export function errnoName(code: number): ErrnoName | undefined {
  return byCode.get(code);
}

/**
 * What an error is about, as fields a program can act on (tests and tools assert these,
 * never the wording): which argument or header (`arg`), which I/O port or IRQ line
 * (`port`, `irq`), which label or endpoint (`label`), a bound and the value that broke it
 * (`limit`, `got`). It crosses the wire in the Mk-Err-Detail header; a receiver keeps only
 * well-formed fields (parseErrDetail), so a hostile party can put nothing else in it.
 */
export interface ErrDetail {
  arg?: string;
  port?: number;
  irq?: number;
  label?: string;
  limit?: number;
  got?: number;
}

const DETAIL_STRINGS = ["arg", "label"] as const;
/** Each number field's range: an I/O port, an IRQ line, counts and sizes. */
const DETAIL_NUMBERS = {
  port: [0, 0xffff],
  irq: [0, 255],
  limit: [0, Number.MAX_SAFE_INTEGER],
  got: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
} as const;
/** The longest Mk-Err-Detail a receiver reads, and the longest string field in it. */
export const ERR_DETAIL_MAX = 256;
const DETAIL_STRING_MAX = 64;
const PRINTABLE = /^[\x20-\x7e]*$/;

/** An error with a stable errno code. Crosses the wire as Mk-Status/Mk-Errmsg/Mk-Err-Detail headers. */
export class MkError extends Error {
  readonly code: number;
  readonly errno: ErrnoName;
  readonly detail?: ErrDetail;
  constructor(errno: Exclude<ErrnoName, "OK">, message: string, options?: ErrorOptions & { detail?: ErrDetail }) {
    super(message, options);
    this.name = "MkError";
    this.errno = errno;
    this.code = Errno[errno];
    if (options?.detail) this.detail = options.detail;
  }
  /** Rebuild an error that arrived as a reply status. Unknown codes become EIO. */
  static fromStatus(status: number, message: string, detail?: ErrDetail): MkError {
    const name = errnoName(status);
    if (name === undefined || name === "OK") {
      return new MkError("EIO", `unknown status ${status}: ${message}`, { detail });
    }
    return new MkError(name, message, { detail });
  }
}

/** The detail as it travels: compact JSON, or undefined when there is none. */
export function encodeErrDetail(d: ErrDetail | undefined): string | undefined {
  if (!d) return undefined;
  const out = sanitize(d as Record<string, unknown>);
  if (!out) return undefined;
  const s = JSON.stringify(out);
  return s.length <= ERR_DETAIL_MAX ? s : undefined;
}

/**
 * The detail a peer sent, keeping only the known fields in their bounds: printable strings
 * of at most 64 characters, safe integers. Anything else (too long, not JSON, not an
 * object) is dropped whole: undefined, never an exception and never trusted.
 */
export function parseErrDetail(raw: string | undefined): ErrDetail | undefined {
  if (raw === undefined || raw.length === 0 || raw.length > ERR_DETAIL_MAX) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const d = sanitize(v as Record<string, unknown>);
  // What is kept must travel again: a detail whose encoding outgrows the bound (numbers in
  // exponent form grow when written out) is dropped here, not later by whoever relays it.
  return d !== undefined && encodeErrDetail(d) !== undefined ? d : undefined;
}

function sanitize(v: Record<string, unknown>): ErrDetail | undefined {
  const out: Record<string, string | number> = {};
  for (const k of DETAIL_STRINGS) {
    const s = v[k];
    if (typeof s === "string" && s.length <= DETAIL_STRING_MAX && PRINTABLE.test(s)) out[k] = s;
  }
  for (const [k, [lo, hi]] of Object.entries(DETAIL_NUMBERS)) {
    const n = v[k];
    if (typeof n === "number" && Number.isSafeInteger(n) && n >= lo && n <= hi) out[k] = n;
  }
  return Object.keys(out).length > 0 ? (out as ErrDetail) : undefined;
}

export function isMkError(e: unknown, errno?: ErrnoName): e is MkError {
  return e instanceof MkError && (errno === undefined || e.errno === errno);
}
