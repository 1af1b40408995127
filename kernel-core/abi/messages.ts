// Message layouts, named by who sends to whom (MINIX's mess_lsys_krn_sys_devio). Each
// request type has an argument shape checked on arrival; replies are shaped as well.
import { f, type Infer, type InferShape, type Shape } from "./schema.ts";
import { Bdev, Cdev, Common, Fs, Hw, Rs, Sched, SysCall, Vfs, Workload } from "./com.ts";
import { ProcessInfoShape, SchedSummaryShape } from "./sched.ts";
import { LATENCY_BUCKETS_S } from "./stat.ts";
import { LABEL_MAX, LABEL_RE } from "./types.ts";

const port = f.u16;
/** A channel's token: the kernel's random name for one channel, in its subject. */
const CHANNEL_TOKEN = /^[0-9a-f]{24}$/;
const label = f.str(LABEL_MAX, LABEL_RE);

const PortOp = f.enum("inb", "inw", "inl", "outb", "outw", "outl");
const StringOp = f.enum("insb", "insw", "insl", "outsb", "outsw", "outsl");
const VecOp = f.enum("inb", "inw", "inl", "outb", "outw", "outl", "insb", "insw", "insl", "outsb", "outsw", "outsl");

/** A vectored block write: at most this many extents, and this many sectors in all (one port vector's bytes). */
export const MAX_WRITEV_EXTENTS = 16;
export const MAX_WRITEV_SECTORS = 512;

/** The IPC paths a sendrec can take (docs/ipc.md); SYS_IPCSTAT reports round trips by them. */
const IPC_PATHS = ["trap", "reply-direct", "channel", "in-kernel"] as const;
export type IpcPath = (typeof IPC_PATHS)[number];
/** One SYS_IPCSTAT report: at most this many (path, destination) rows, each at most this many round trips. */
export const IPCSTAT_MAX_ROWS = 64;
export const IPCSTAT_MAX_COUNT = 1_000_000;

/** Largest string transfer in one operation, in units (65536 words: 256 sectors, one ATA command). */
const MAX_STRING_UNITS = 65536;
/** Operations in one port vector. */
export const MAX_VECTOR = 256;
/**
 * Bytes one port vector may move in and out, all its string operations together: a
 * reply the bus builds must always fit a NATS message (max_payload is 1 MiB).
 */
const MAX_IO_BYTES = 256 * 1024;

const UNIT_BYTES: Record<string, number> = { b: 1, w: 2, l: 4 };

/** Bytes a string operation moves (count units of its width); 0 for single port I/O. */
export function stringOpBytes(op: string, count: number): number {
  return op.startsWith("ins") || op.startsWith("outs") ? count * UNIT_BYTES[op[op.length - 1]] : 0;
}

/** Every count of a port vector bounded: per string op, and in total. */
function checkVector(ops: readonly (readonly [string, number, number])[]): string | undefined {
  let total = 0;
  for (let i = 0; i < ops.length; i++) {
    const [op, , value] = ops[i];
    const bytes = stringOpBytes(op, value);
    if (bytes === 0) continue;
    if (value > MAX_STRING_UNITS) return `operation ${i} (${op}) moves ${value} units, more than ${MAX_STRING_UNITS}`;
    total += bytes;
  }
  return total > MAX_IO_BYTES ? `the vector moves ${total} bytes, more than ${MAX_IO_BYTES}` : undefined;
}

/** A hardware fault: HW_FAULT on the bus, SYS_HWFAULT from a chaos client. */
const hwFault = {
  fault: f.enum("bad-sector", "lost-irq", "spurious-irq", "stuck-bsy", "clear"),
  lba: f.opt(f.u32),
  count: f.opt(f.uint(4096)),
  irq: f.opt(f.uint(15)),
  ms: f.opt(f.uint(3_600_000)),
} as const;

const portVector = f.refine(f.list(f.tuple(VecOp, port, f.u32), MAX_VECTOR), checkVector);

const ms = f.opt(f.uint(Number.MAX_SAFE_INTEGER));

/**
 * What other services may do with a driver's device (SYS_DEVACCESS, asked by the driver): the disk areas each label may read or write (`block` in the privilege table,
 * sectors first..last inclusive) and the labels that may read its input (`input`).
 */
const DeviceAccessShape = f.object({
  /** The disk's size as the table says (hardware.disk.sectors): a range reaching past it is no one's (refused whole). */
  sectors: f.u32,
  block: f.list(f.object({ label, device: label, area: label, first: f.u32, last: f.u32, access: f.enum("r", "w", "rw") }), 1024),
  input: f.list(label, 1024),
});
export type DeviceAccess = Infer<typeof DeviceAccessShape>;

/** A label as a row shows it: a service's, or a client instance's (mkctl.k3f9x0a1). */
const rowLabel = f.str(LABEL_MAX);

/** One row of the endpoint table, as SYS_GETINFO returns it. */
const EndpointInfoShape = f.object({
  endpoint: f.str(LABEL_MAX + 11),
  label: rowLabel,
  generation: f.u32,
  state: f.enum("starting", "ready", "dead"),
  placement: f.enum("kernel", "user"),
  pid: f.uint(Number.MAX_SAFE_INTEGER),
  host: f.str(255),
  /** ISO 8601 time of the last state change. */
  since: f.str(40),
  messages: f.uint(Number.MAX_SAFE_INTEGER),
  /** From the privilege table (absent for the kernel itself). */
  privileges: f.opt(
    f.object({
      ipc: f.list(rowLabel, 1024),
      calls: f.list(f.str(32), 64),
      io: f.list(f.str(32), 1024),
      irq: f.list(f.uint(15), 16),
      console: f.bool,
      events: f.bool,
      metrics: f.bool,
      chaos: f.bool,
      block: f.opt(f.list(f.object({ device: label, area: label, first: f.u32, last: f.u32, access: f.enum("r", "w", "rw") }), 1024)),
      input: f.opt(f.list(rowLabel, 1024)),
    }),
  ),
});
export type EndpointInfo = Infer<typeof EndpointInfoShape>;

/** The demo workload's highest rate: operations per second. */
export const WORKLOAD_MAX_RATE = 200;
/** The longest pause WORKLOAD_PAUSE takes: a pauser that dies leaves the workload idle at most this long. */
export const WORKLOAD_MAX_PAUSE_MS = 600_000;
/** Longest WORKLOAD_PAUSE's answer waits for the operation under way to finish (a pauser's timeout must be longer). */
export const WORKLOAD_SETTLE_MAX_MS = 5000;
const total = f.uint(Number.MAX_SAFE_INTEGER);
/** What the demo workload has done since it started (WORKLOAD_STATS). */
const WorkloadStatsShape = {
  rate: f.uint(WORKLOAD_MAX_RATE),
  /** What is left of a pause (0: none). */
  paused_ms: f.opt(total),
  ops: total,
  failed: total,
  retried: total,
  bytes_written: total,
  bytes_verified: total,
  bytes_wrong: total,
  last_error: f.opt(f.str(300)),
} as const;
/** One service as the reincarnation server sees it (RS_LIST; `mkctl services --json`). */
const ServiceStatusShape = f.object({
  label,
  /** running: ready in the kernel; starting; backoff: waiting to be restarted; stopped: by hand; failed: past its intensity, or cannot start. */
  state: f.enum("starting", "running", "backoff", "stopping", "stopped", "failed"),
  pid: f.opt(f.u32),
  generation: f.opt(f.u32),
  restarts: f.uint(Number.MAX_SAFE_INTEGER),
  /** Why the last incarnation ended: exit N, signal SIG..., heartbeat, disconnect, no-subscriber, or why it could not start. */
  last_cause: f.opt(f.str(300)),
  /** Of the last recovery: death to detection, detection to serving again (ms). */
  detect_ms: ms,
  recover_ms: ms,
  /** Over the recoveries rs remembers (the last 1024 of all services): detection to serving again. */
  recover_p50_ms: ms,
  recover_p99_ms: ms,
  heartbeat_ms: f.opt(f.u32),
  /** Pings it did not answer that were not held against it: rs was stalled, or the kernel was slow or away. */
  misses_excused: f.opt(f.uint(Number.MAX_SAFE_INTEGER)),
});
export type ServiceStatus = Infer<typeof ServiceStatusShape>;

const epochMs = f.uint(Number.MAX_SAFE_INTEGER);
/** One recovery rs saw: when the incarnation died, when rs knew (and how), when the next one served. */
export const RecoveryShape = f.object({
  label,
  cause: f.str(300),
  how: f.enum("exit", "event", "heartbeat", "start-timeout"),
  diedAt: epochMs,
  detectedAt: epochMs,
  servingAt: epochMs,
  detectMs: epochMs,
  recoverMs: epochMs,
});
export type RecoveryRecord = Infer<typeof RecoveryShape>;

/** Largest read or write in one file-system message (a write's body, a read's reply). */
export const MAX_FS_IO = 256 * 1024;
/** Longest path vfs resolves (Linux's PATH_MAX); the layout admits longer so that vfs answers ENAMETOOLONG, not EBADREQUEST. */
export const PATH_MAX = 4096;
/**
 * Most names (components other than "." and "..") vfs walks in one path; a path with more
 * is ENAMETOOLONG, as one past PATH_MAX is. Each name is one lookup in a file-system
 * server, so this bounds one request's work however deep a tree is: renames can make a
 * tree deeper than any path reaches (a rename touches only what its two paths name), and
 * its deep part is reached again by renaming a directory nearer the root. 128 is as many
 * as one MINIX 3 path (PATH_MAX 255 bytes) can hold.
 */
export const PATH_DEPTH_MAX = 128;
/** Longest name in a directory (the MINIX v3 entry holds 60 bytes). */
export const NAME_MAX = 60;
/** Entries in one getdents page. */
export const MAX_DENTS = 1024;

const path = f.str(2 * PATH_MAX);
/**
 * A request id a user program gives one change (create, mkdir, unlink, rmdir, rename, an
 * append) and keeps across resends: mfs answers a repeat from its reply cache, so the
 * change is made once however often it is sent.
 */
const rid = f.opt(f.str(32, /^[A-Za-z0-9_-]{8,32}$/));
/**
 * The request id vfs passes on to a file-system server: the caller's endpoint as the kernel
 * stamped it (label#generation) and the caller's own id, so one caller's ids never answer
 * another's. With it, a digest of what the caller asked under the id (its request's type,
 * arguments and body): a repeat with another request is refused, never answered.
 */
const FS_RID_MAX = 48 + 1 + 32;
const fsRid = f.opt(f.str(FS_RID_MAX, /^[^\s:]{1,48}:[A-Za-z0-9_-]{8,32}$/));
const digest = f.opt(f.str(43, /^[A-Za-z0-9_-]{43}$/));
const fsName = f.str(4 * NAME_MAX);
const ino = f.u32;
const fd = f.uint(1 << 20);
const fileSize = f.uint(Number.MAX_SAFE_INTEGER);
const seconds = f.u32;
/**
 * What stat answers (struct stat, the parts MINIX v3 keeps); vfs adds the server that holds
 * it and, for the root of a mounted file system, where that is mounted (`mount`): what a
 * path names, however it is spelt ("/a/..", "//"), not its text.
 */
const StatShape = {
  ino,
  mode: f.u16,
  nlinks: f.u16,
  uid: f.u16,
  gid: f.u16,
  size: fileSize,
  atime: seconds,
  mtime: seconds,
  ctime: seconds,
  /** 512-byte units allocated, indirect blocks included (a sparse file has fewer than its size). */
  blocks: fileSize,
  dev: f.opt(label),
  mount: f.opt(path),
  // From a file-system server to vfs: its namespace version, which moves whenever a
  // directory's name may have gone or a number been given to a new directory (mkdir, rmdir,
  // rename, a new mount): vfs's cache of directory names is good only while it stays put.
  nsv: f.opt(f.u32),
} as const;
export type FileStat = InferShape<typeof StatShape>;
const count = f.uint(Number.MAX_SAFE_INTEGER);
const StatfsShape = {
  blockSize: f.u32,
  blocks: f.u32,
  freeBlocks: f.u32,
  inodes: f.u32,
  freeInodes: f.u32,
  nameMax: f.u16,
  // What the file system asked of its disk since it started (requests, not blocks; a flush
  // riding on a vectored write counts as one), and its buffer cache's block hits and misses.
  io: f.opt(f.object({ reads: count, writes: count, flushes: count, hits: count, misses: count })),
} as const;
export type FsStatfs = InferShape<typeof StatfsShape>;
/** One directory entry of a getdents page (the JSON body). */
export const DirentShape = f.object({ name: f.str(255), ino: f.uint(Number.MAX_SAFE_INTEGER), type: f.enum("file", "dir", "other") });
export type Dirent = Infer<typeof DirentShape>;

export const Layouts = {
  // lsys -> krn
  [SysCall.SYS_HELLO]: {
    // conn names the caller's NATS connection; resume: register again, after a kernel restart, as this generation.
    req: { pid: f.u32, host: f.str(255), conn: f.opt(f.str(32, /^[A-Za-z0-9]*$/)), resume: f.opt(f.u32) },
    // channels: the labels the table gives this caller a channel to (paths: channel).
    rep: { generation: f.u32, previous: f.u32, boot: f.str(32), channels: f.opt(f.list(label, 256)) },
  },
  [SysCall.SYS_READY]: { req: {}, rep: {} },
  [SysCall.SYS_EXIT]: { req: {}, rep: {} },
  [SysCall.SYS_HWFAULT]: { req: hwFault, rep: {} },
  [SysCall.SYS_DEVIO]: { req: { op: PortOp, port, value: f.opt(f.u32) }, rep: { value: f.u32 } },
  [SysCall.SYS_SDEVIO]: { req: { op: StringOp, port, count: f.uint(MAX_STRING_UNITS) }, rep: { count: f.u32 } },
  [SysCall.SYS_VDEVIO]: {
    req: { ops: portVector },
    rep: { values: f.list(f.u32, MAX_VECTOR) },
  },
  [SysCall.SYS_IRQCTL]: {
    req: { request: f.enum("setpolicy", "rmpolicy", "enable", "disable"), irq: f.uint(15), policy: f.opt(f.u32) },
    rep: {},
  },
  [SysCall.SYS_GETINFO]: {
    req: {
      what: f.enum("endpoints", "endpoint", "privileges", "processes"),
      label: f.opt(label),
      after: f.opt(f.u32),
      waitMs: f.opt(f.uint(600_000)),
    },
    rep: {
      endpoints: f.opt(f.list(EndpointInfoShape, 1024)),
      privileges: f.opt(f.unknown),
      processes: f.opt(f.list(ProcessInfoShape, 1024)),
      sched: f.opt(SchedSummaryShape),
    },
  },
  // sched -> krn. Values are checked by the kernel (EINVAL outside NR_SCHED_QUEUES and
  // QUANTUM_MIN_MS..QUANTUM_MAX_MS, or past a driver's or server's floor), so the layout
  // takes any integer.
  [SysCall.SYS_SCHEDULE]: {
    req: {
      endpoint: f.str(48),
      priority: f.int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      quantum_ms: f.int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    },
    rep: {},
  },
  // driver -> krn: what the privilege table lets others do with the caller's own device.
  [SysCall.SYS_DEVACCESS]: { req: {}, rep: DeviceAccessShape.fields },
  // caller -> krn: a channel to dst (label#generation); the subject to publish requests on.
  [SysCall.SYS_CHANNEL]: { req: { dst: f.str(48) }, rep: { subject: f.str(160), token: f.str(32, CHANNEL_TOKEN) } },
  // any -> krn: round trips its sendrecs took since the last report, by path and destination
  // label: counts per latency bucket (LATENCY_BUCKETS_S, then above) and their sum in µs.
  [SysCall.SYS_IPCSTAT]: {
    req: {
      rows: f.list(
        f.object({
          path: f.enum(...IPC_PATHS),
          dst: label,
          count: f.uint(IPCSTAT_MAX_COUNT),
          sum_us: f.uint(Number.MAX_SAFE_INTEGER),
          buckets: f.list(f.uint(IPCSTAT_MAX_COUNT), LATENCY_BUCKETS_S.length + 1),
        }),
        IPCSTAT_MAX_ROWS,
      ),
    },
    rep: {},
  },
  // mkctl -> krn: nice for every incarnation of label, now and after restarts.
  [SysCall.SYS_NICE]: {
    req: { label, nice: f.int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) },
    rep: { nice: f.int(-20, 19) },
  },
  // chaos clients -> krn: a signal to the live process of a label the caller may message.
  [SysCall.SYS_KILL]: {
    req: { label, signal: f.enum("KILL", "TERM", "STOP", "CONT") },
    rep: { pid: f.u32 },
  },
  // krn -> sched: a quantum ran out. blocked: voluntary switches since the last one.
  [Sched.SCHED_NO_QUANTUM]: {
    req: {
      endpoint: f.str(48),
      class: f.enum("driver", "server", "user"),
      priority: f.uint(15),
      base_priority: f.uint(15),
      quantum_ms: f.uint(10_000),
      base_quantum_ms: f.uint(10_000),
      nice: f.int(-20, 19),
      blocked: f.u32,
      cpu_ms: f.uint(Number.MAX_SAFE_INTEGER),
    },
    rep: {},
  },
  // client -> block driver
  [Bdev.BDEV_OPEN]: { req: { minor: f.u8, access: f.opt(f.enum("r", "w", "rw")) }, rep: {} },
  [Bdev.BDEV_CLOSE]: { req: { minor: f.u8 }, rep: {} },
  // crc: CRC-32 of the data, computed by the driver where the data is produced: a client
  // detects a body damaged on the way (or by chaos's corrupt fault) and reads again.
  [Bdev.BDEV_READ]: { req: { minor: f.u8, lba: f.u32, count: f.uint(1024) }, rep: { count: f.u32, crc: f.opt(f.u32) } },
  [Bdev.BDEV_WRITE]: { req: { minor: f.u8, lba: f.u32, count: f.uint(1024) }, rep: { count: f.u32 } },
  // extents: written in the order given; the body is their sectors one after another.
  // barrier: the extents before this index are all on the disk before any after it is
  // written (a file system's fresh blocks before the blocks that point to them); a failed
  // one stops the request there. flush: CACHE FLUSH after the last.
  [Bdev.BDEV_WRITEV]: {
    req: {
      minor: f.u8,
      extents: f.list(f.object({ lba: f.u32, count: f.uint(MAX_WRITEV_SECTORS) }), MAX_WRITEV_EXTENTS),
      barrier: f.opt(f.uint(MAX_WRITEV_EXTENTS)),
      flush: f.opt(f.bool),
    },
    rep: { count: f.u32 },
  },
  [Bdev.BDEV_FLUSH]: { req: { minor: f.u8 }, rep: {} },
  [Bdev.BDEV_GEOMETRY]: {
    req: { minor: f.u8 },
    rep: { sectors: f.u32, sectorSize: f.u32, model: f.str(40), serial: f.str(20) },
  },
  // client -> character driver
  [Cdev.CDEV_OPEN]: { req: { minor: f.u8 }, rep: {} },
  [Cdev.CDEV_CLOSE]: { req: { minor: f.u8 }, rep: {} },
  [Cdev.CDEV_READ]: { req: { minor: f.u8, count: f.uint(65536), timeoutMs: f.opt(f.uint(600_000)) }, rep: { count: f.u32 } },
  [Cdev.CDEV_WRITE]: { req: { minor: f.u8 }, rep: { count: f.u32 } },
  // mkctl -> reincarnation server
  // dashboard, mkctl -> workload
  [Workload.WORKLOAD_SET]: { req: { rate: f.uint(WORKLOAD_MAX_RATE) }, rep: { rate: f.uint(WORKLOAD_MAX_RATE) } },
  [Workload.WORKLOAD_STATS]: { req: {}, rep: WorkloadStatsShape },
  [Workload.WORKLOAD_PAUSE]: { req: { ms: f.uint(WORKLOAD_MAX_PAUSE_MS) }, rep: {} },
  [Rs.RS_UP]: { req: { label }, rep: { pid: f.u32 } },
  [Rs.RS_DOWN]: { req: { label }, rep: {} },
  [Rs.RS_RESTART]: { req: { label }, rep: { pid: f.u32 } },
  [Rs.RS_LIST]: { req: {}, rep: { services: f.list(ServiceStatusShape, 256) } },
  // The recoveries travel in the body, as a JSON array of RecoveryShape (too many for a header).
  [Rs.RS_RECOVERIES]: { req: { since: f.opt(epochMs) }, rep: { count: f.uint(1024) } },
  // user program -> vfs. flags: Linux's O_RDONLY 0, O_WRONLY 1, O_RDWR 2, O_CREAT 0o100,
  // O_EXCL 0o200, O_TRUNC 0o1000, O_APPEND 0o2000, O_DIRECTORY 0o200000.
  // ino: the file opened (a client reopening by path after vfs restarted checks it is the same file).
  [Vfs.VFS_OPEN]: { req: { path, flags: f.u32, mode: f.opt(f.uint(0o7777)), rid }, rep: { fd, ino } },
  [Vfs.VFS_CLOSE]: { req: { fd }, rep: {} },
  [Vfs.VFS_READ]: { req: { fd, count: f.uint(MAX_FS_IO) }, rep: { count: f.u32 } },
  // offset: where the bytes went (with O_APPEND, the end vfs found).
  [Vfs.VFS_WRITE]: { req: { fd, rid }, rep: { count: f.u32, offset: fileSize } },
  [Vfs.VFS_PREAD]: { req: { fd, count: f.uint(MAX_FS_IO), offset: fileSize }, rep: { count: f.u32 } },
  [Vfs.VFS_PWRITE]: { req: { fd, offset: fileSize }, rep: { count: f.u32 } },
  [Vfs.VFS_LSEEK]: {
    req: { fd, offset: f.int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), whence: f.enum("set", "cur", "end") },
    rep: { offset: fileSize },
  },
  [Vfs.VFS_FSYNC]: { req: { fd }, rep: {} },
  [Vfs.VFS_FSTAT]: { req: { fd }, rep: StatShape },
  [Vfs.VFS_FTRUNCATE]: { req: { fd, size: fileSize }, rep: {} },
  [Vfs.VFS_STAT]: { req: { path }, rep: StatShape },
  [Vfs.VFS_TRUNCATE]: { req: { path, size: fileSize }, rep: {} },
  [Vfs.VFS_UNLINK]: { req: { path, rid }, rep: {} },
  [Vfs.VFS_MKDIR]: { req: { path, mode: f.opt(f.uint(0o7777)), rid }, rep: {} },
  [Vfs.VFS_RMDIR]: { req: { path, rid }, rep: {} },
  [Vfs.VFS_RENAME]: { req: { from: path, to: path, rid }, rep: {} },
  // The entries travel in the body as a JSON array of Dirent; next: the cookie of the page after.
  [Vfs.VFS_GETDENTS]: {
    req: { path, cookie: f.opt(f.u32), max: f.opt(f.uint(MAX_DENTS)) },
    rep: { count: f.uint(MAX_DENTS), next: f.opt(f.u32) },
  },
  [Vfs.VFS_STATFS]: { req: { path }, rep: { ...StatfsShape, dev: label, mount: path } },
  [Vfs.VFS_SYNC]: { req: {}, rep: {} },
  [Vfs.VFS_MOUNTS]: { req: {}, rep: { mounts: f.list(f.object({ path, dev: label }), 16) } },
  // vfs -> file-system server (mfs, procfs): inode numbers, no paths
  [Fs.FS_LOOKUP]: { req: { dir: ino, name: fsName }, rep: StatShape },
  [Fs.FS_STAT]: { req: { ino }, rep: StatShape },
  // hold: the new file is held open for the caller too (FS_GETNODE's hold, in the same request: open with O_CREAT).
  [Fs.FS_CREATE]: { req: { dir: ino, name: fsName, mode: f.uint(0o7777), rid: fsRid, digest, hold: f.opt(f.bool) }, rep: StatShape },
  [Fs.FS_MKDIR]: { req: { dir: ino, name: fsName, mode: f.uint(0o7777), rid: fsRid, digest }, rep: StatShape },
  [Fs.FS_UNLINK]: { req: { dir: ino, name: fsName, rid: fsRid, digest }, rep: {} },
  [Fs.FS_RMDIR]: { req: { dir: ino, name: fsName, rid: fsRid, digest }, rep: {} },
  [Fs.FS_RENAME]: { req: { sdir: ino, sname: fsName, ddir: ino, dname: fsName, rid: fsRid, digest }, rep: {} },
  [Fs.FS_READ]: { req: { ino, offset: fileSize, count: f.uint(MAX_FS_IO) }, rep: { count: f.u32 } },
  // verifier: the server's generation; a different one at FS_SYNC means unstable writes were lost: send them again.
  // rid: an append's (vfs found the end for it); a repeat is answered from the reply cache, offset included.
  [Fs.FS_WRITE]: { req: { ino, offset: fileSize, rid: fsRid, digest }, rep: { size: fileSize, verifier: f.u32, offset: f.opt(fileSize) } },
  [Fs.FS_TRUNC]: { req: { ino, size: fileSize }, rep: {} },
  [Fs.FS_GETDENTS]: { req: { ino, cookie: f.u32, max: f.uint(MAX_DENTS) }, rep: { count: f.uint(MAX_DENTS), next: f.opt(f.u32) } },
  [Fs.FS_SETATTR]: {
    req: { ino, mode: f.opt(f.uint(0o7777)), uid: f.opt(f.u16), gid: f.opt(f.u16), atime: f.opt(seconds), mtime: f.opt(seconds) },
    rep: StatShape,
  },
  [Fs.FS_GETNODE]: { req: { ino }, rep: {} },
  [Fs.FS_PUTNODE]: { req: { ino }, rep: {} },
  [Fs.FS_STATFS]: { req: {}, rep: StatfsShape },
  [Fs.FS_SYNC]: { req: {}, rep: { verifier: f.u32 } },
  // The report travels in the body as JSON (mkctl fsck prints it).
  [Fs.FS_FSCK]: { req: { repair: f.uint(1) }, rep: { clean: f.uint(1), problems: f.u32, repaired: f.u32 } },
  [Fs.FS_MKFS]: { req: { blockSize: f.opt(f.enum("1024", "2048", "4096")), inodes: f.opt(f.u32) }, rep: StatfsShape },
  // anyone -> anyone
  [Common.COMMON_PING]: { req: {}, rep: {} },
  [Common.COMMON_HEARTBEAT]: { req: {}, rep: {} },
  // krn -> server: a channel from src opened (its token), or revoked.
  [Common.COMMON_CHANNEL]: { req: { op: f.enum("open", "close"), src: f.str(48), token: f.str(32, CHANNEL_TOKEN) }, rep: {} },
  [Common.COMMON_FAULT]: {
    // type: crash only on this message type (0 or absent: the next request); count: how many requests slow or corrupt
    // block: the server's event loop is busy for `ms` (a hang that is not a stopped process)
    req: {
      fault: f.enum("crash", "slow", "corrupt", "block", "clear"),
      ms: f.opt(f.uint(60_000)),
      count: f.opt(f.uint(1_000_000)),
      type: f.opt(f.u16),
    },
    rep: {},
  },
  // krn -> hardware bus
  [Hw.HW_IO]: { req: { ops: portVector }, rep: { values: f.list(f.u32, MAX_VECTOR) } },
  [Hw.HW_FAULT]: { req: hwFault, rep: {} },
  [Hw.HW_INFO]: { req: {}, rep: { boot: f.str(32), ioOps: f.uint(Number.MAX_SAFE_INTEGER), ticks: f.uint(Number.MAX_SAFE_INTEGER) } },
} as const satisfies Record<number, { req: Shape; rep: Shape }>;

export type Layouts = typeof Layouts;
export type LayoutType = keyof Layouts;
export type ReqArgs<T extends LayoutType> = InferShape<Layouts[T]["req"]>;
export type RepArgs<T extends LayoutType> = InferShape<Layouts[T]["rep"]>;

export type HwIoRequest = ReqArgs<typeof Hw.HW_IO>;
export type HwFaultRequest = ReqArgs<typeof Hw.HW_FAULT>;
export type HwInfoReply = RepArgs<typeof Hw.HW_INFO>;
export type GeometryReply = RepArgs<typeof Bdev.BDEV_GEOMETRY>;

export function hasLayout(type: number): type is LayoutType {
  return Object.hasOwn(Layouts, type);
}

/** IRQ policy bits (MINIX IRQ_REENABLE): re-enable the line after each notification. */
export const IRQ_REENABLE = 0x1;

/**
 * The kernel calls, one row each: the name etc/system.yaml grants it by (absent: every
 * incarnation may make it about itself) and whether its body may carry data. The
 * privilege table, the kernel's dispatch and its metrics all read this one table.
 */
export const KernelCalls = {
  [SysCall.SYS_DEVIO]: { name: "devio", grant: true, body: false },
  [SysCall.SYS_VDEVIO]: { name: "vdevio", grant: true, body: true }, // outs* bytes, in order
  [SysCall.SYS_SDEVIO]: { name: "sdevio", grant: true, body: true }, // outs* bytes
  [SysCall.SYS_IRQCTL]: { name: "irqctl", grant: true, body: false },
  [SysCall.SYS_GETINFO]: { name: "getinfo", grant: true, body: false },
  [SysCall.SYS_HELLO]: { name: "hello", grant: false, body: false },
  [SysCall.SYS_READY]: { name: "ready", grant: false, body: false },
  [SysCall.SYS_EXIT]: { name: "exit", grant: false, body: false },
  [SysCall.SYS_HWFAULT]: { name: "hwfault", grant: true, body: false },
  [SysCall.SYS_SCHEDULE]: { name: "schedule", grant: true, body: false },
  [SysCall.SYS_NICE]: { name: "nice", grant: true, body: false },
  [SysCall.SYS_KILL]: { name: "kill", grant: true, body: false },
  // Every incarnation may ask about its own device: a driver must know whom to refuse.
  [SysCall.SYS_DEVACCESS]: { name: "devaccess", grant: false, body: false },
  // Every incarnation may ask; the table's paths (channel for the pair) decide.
  [SysCall.SYS_CHANNEL]: { name: "channel", grant: false, body: false },
  // Every incarnation reports its own round trips; the kernel checks each pair against its ipc.
  [SysCall.SYS_IPCSTAT]: { name: "ipcstat", grant: false, body: false },
} as const satisfies Record<number, { name: string; grant: boolean; body: boolean }>;
export type KernelCallType = keyof typeof KernelCalls;
export type GrantableCall = {
  [T in KernelCallType]: (typeof KernelCalls)[T]["grant"] extends true ? (typeof KernelCalls)[T]["name"] : never;
}[KernelCallType];

export function isKernelCall(type: number): type is KernelCallType {
  return Object.hasOwn(KernelCalls, type);
}
