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

/** An error with a stable errno code. Crosses the wire as Mk-Status/Mk-Errmsg headers. */
export class MkError extends Error {
  readonly code: number;
  readonly errno: ErrnoName;
  constructor(errno: Exclude<ErrnoName, "OK">, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MkError";
    this.errno = errno;
    this.code = Errno[errno];
  }
  /** Rebuild an error that arrived as a reply status. Unknown codes become EIO. */
  static fromStatus(status: number, message: string): MkError {
    const name = errnoName(status);
    if (name === undefined || name === "OK") {
      return new MkError("EIO", `unknown status ${status}: ${message}`);
    }
    return new MkError(name, message);
  }
}

export function isMkError(e: unknown, errno?: ErrnoName): e is MkError {
  return e instanceof MkError && (errno === undefined || e.errno === errno);
}
