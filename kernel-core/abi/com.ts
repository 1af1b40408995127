// Message type numbers. Each protocol owns one range, as MINIX's com.h does:
//   0x100 the file-system calls (VFS: user programs -> vfs, MINIX's VFS_BASE)
//   0x400 character devices (CDEV)     0x500 block devices (BDEV)
//   0x600 kernel calls (SYS)           0x700 reincarnation server (RS)
//   0x800 the demo workload (WORKLOAD)
//   0xA00 file-system servers (FS: vfs -> mfs, procfs; MINIX's REQ_*)
//   0xE00 common requests (COMMON)
//   0xF00 scheduling (SCHED)           0x1000 notifications
//   0x1200 hardware bus (HW, kernel-core <-> hardware-emulator only)
// A reply is not numbered: it carries the request's type and a status (0 or -errno).

export const NOTIFY_MESSAGE = 0x1000;

export const SysCall = {
  SYS_IRQCTL: 0x613, // KERNEL_CALL + 19: set policy, enable, disable an IRQ line for the caller
  SYS_DEVIO: 0x615, // KERNEL_CALL + 21: one in/out of 8, 16 or 32 bits
  SYS_SDEVIO: 0x616, // KERNEL_CALL + 22: string I/O: rep ins/outs, a whole sector in one call
  SYS_VDEVIO: 0x617, // KERNEL_CALL + 23: a vector of port reads and writes in one call
  SYS_GETINFO: 0x61a, // KERNEL_CALL + 26: the endpoint table, one endpoint, the caller's privileges
  SYS_HELLO: 0x63c, // KERNEL_CALL + 60: a new incarnation announces itself and is given label#generation
  SYS_READY: 0x63d, // KERNEL_CALL + 61: the incarnation finished its init callback and now serves
  SYS_EXIT: 0x63e, // KERNEL_CALL + 62: the incarnation ends of its own accord (a stop, not a crash)
  SYS_HWFAULT: 0x640, // KERNEL_CALL + 64: inject or clear a hardware fault in the emulator (chaos; granted as hwfault)
  SYS_SCHEDULE: 0x641, // KERNEL_CALL + 65: the sched server sets an endpoint's priority and quantum (MINIX sys_schedule)
  SYS_NICE: 0x642, // KERNEL_CALL + 66: set a label's nice value (mkctl nice; the policy reads it)
  SYS_KILL: 0x643, // KERNEL_CALL + 67: signal a label's live process (chaos: kill, hang; granted as kill)
  SYS_DEVACCESS: 0x644, // KERNEL_CALL + 68: for a driver: who may read or write which disk area, who may read its input
  SYS_CHANNEL: 0x645, // KERNEL_CALL + 69: open a direct channel to one incarnation, where the table's paths say channel
  SYS_IPCSTAT: 0x646, // KERNEL_CALL + 70: the round trips the caller's sendrecs took, by path and destination (the dashboard's per-path latency)
} as const;
export type SysCall = (typeof SysCall)[keyof typeof SysCall];

export const Bdev = {
  BDEV_OPEN: 0x500, // BDEV_RQ_BASE + 0
  BDEV_CLOSE: 0x501, // BDEV_RQ_BASE + 1
  BDEV_READ: 0x503, // BDEV_RQ_BASE + 3
  BDEV_WRITE: 0x504, // BDEV_RQ_BASE + 4
  BDEV_WRITEV: 0x506, // BDEV_RQ_BASE + 6: extents anywhere on the disk, written in order, one request (and a flush after, if asked)
  BDEV_FLUSH: 0x508, // BDEV_RQ_BASE + 8: write cache to stable storage (ATA CACHE FLUSH)
  BDEV_GEOMETRY: 0x509, // BDEV_RQ_BASE + 9
} as const;
export type Bdev = (typeof Bdev)[keyof typeof Bdev];

export const Cdev = {
  CDEV_OPEN: 0x400, // CDEV_RQ_BASE + 0
  CDEV_CLOSE: 0x401, // CDEV_RQ_BASE + 1
  CDEV_READ: 0x402, // CDEV_RQ_BASE + 2
  CDEV_WRITE: 0x403, // CDEV_RQ_BASE + 3
} as const;
export type Cdev = (typeof Cdev)[keyof typeof Cdev];

/** Requests to the reincarnation server (MINIX's RS_UP, RS_DOWN, RS_RESTART, RS_LOOKUP). */
export const Rs = {
  RS_UP: 0x700, // RS_RQ_BASE + 0: start a service that is stopped or failed
  RS_DOWN: 0x701, // RS_RQ_BASE + 1: stop a service by hand (not a crash: not restarted)
  RS_RESTART: 0x703, // RS_RQ_BASE + 3: stop and start again (clears failed)
  RS_LIST: 0x708, // RS_RQ_BASE + 8: every supervised service with its restarts, last cause, recovery times
  RS_RECOVERIES: 0x709, // RS_RQ_BASE + 9: the recoveries rs saw (death, detection and how, serving again), newest last
} as const;
export type Rs = (typeof Rs)[keyof typeof Rs];

/** The demo workload (services/workload): its rate, and what it has verified. */
export const Workload = {
  WORKLOAD_SET: 0x800, // WORKLOAD_RQ_BASE + 0: operations per second from now on (0: idle)
  WORKLOAD_STATS: 0x801, // WORKLOAD_RQ_BASE + 1: the rate, operations, failures and bytes verified since it started
  WORKLOAD_PAUSE: 0x802, // WORKLOAD_RQ_BASE + 2: no operation for ms (an experiment runs); 0 ends a pause. Not kept: it expires by itself
} as const;
export type Workload = (typeof Workload)[keyof typeof Workload];

/** What a user program asks vfs: the POSIX calls, on paths and on descriptors. */
export const Vfs = {
  VFS_OPEN: 0x100, // VFS_RQ_BASE + 0: a path to a descriptor (flags as Linux's O_*)
  VFS_CLOSE: 0x101, // VFS_RQ_BASE + 1
  VFS_READ: 0x102, // VFS_RQ_BASE + 2: at the descriptor's offset, which moves
  VFS_WRITE: 0x103, // VFS_RQ_BASE + 3: at the offset, or the end with O_APPEND
  VFS_PREAD: 0x104, // VFS_RQ_BASE + 4: at a given offset; the descriptor's stays
  VFS_PWRITE: 0x105, // VFS_RQ_BASE + 5
  VFS_LSEEK: 0x106, // VFS_RQ_BASE + 6
  VFS_FSYNC: 0x107, // VFS_RQ_BASE + 7: the file's data on stable storage before the reply
  VFS_FSTAT: 0x108, // VFS_RQ_BASE + 8
  VFS_FTRUNCATE: 0x109, // VFS_RQ_BASE + 9
  VFS_STAT: 0x10a, // VFS_RQ_BASE + 10
  VFS_TRUNCATE: 0x10b, // VFS_RQ_BASE + 11
  VFS_UNLINK: 0x10c, // VFS_RQ_BASE + 12
  VFS_MKDIR: 0x10d, // VFS_RQ_BASE + 13
  VFS_RMDIR: 0x10e, // VFS_RQ_BASE + 14
  VFS_RENAME: 0x10f, // VFS_RQ_BASE + 15
  VFS_GETDENTS: 0x110, // VFS_RQ_BASE + 16: a directory's entries, a page at a time (JSON body)
  VFS_STATFS: 0x111, // VFS_RQ_BASE + 17: the file system holding a path
  VFS_SYNC: 0x112, // VFS_RQ_BASE + 18: every file system's data on stable storage
  VFS_MOUNTS: 0x113, // VFS_RQ_BASE + 19: the mount table (path -> server)
} as const;
export type Vfs = (typeof Vfs)[keyof typeof Vfs];

/**
 * What vfs asks a file-system server: operations on inode numbers (MINIX's REQ_*); paths
 * and descriptors stay in vfs. A write is unstable until FS_SYNC (NFS v3's COMMIT); both
 * answer with the server's write verifier, its generation.
 */
export const Fs = {
  FS_LOOKUP: 0xa00, // FS_RQ_BASE + 0: one name in one directory
  FS_STAT: 0xa01, // FS_RQ_BASE + 1
  FS_CREATE: 0xa02, // FS_RQ_BASE + 2: a regular file (EEXIST if the name is taken)
  FS_MKDIR: 0xa03, // FS_RQ_BASE + 3
  FS_UNLINK: 0xa04, // FS_RQ_BASE + 4
  FS_RMDIR: 0xa05, // FS_RQ_BASE + 5
  FS_RENAME: 0xa06, // FS_RQ_BASE + 6
  FS_READ: 0xa07, // FS_RQ_BASE + 7
  FS_WRITE: 0xa08, // FS_RQ_BASE + 8: unstable until FS_SYNC
  FS_TRUNC: 0xa09, // FS_RQ_BASE + 9
  FS_GETDENTS: 0xa0a, // FS_RQ_BASE + 10
  FS_SETATTR: 0xa0b, // FS_RQ_BASE + 11: mode, owner, times
  FS_GETNODE: 0xa0c, // FS_RQ_BASE + 12: vfs holds the inode open (an unlinked file lives until its last putnode)
  FS_PUTNODE: 0xa0d, // FS_RQ_BASE + 13
  FS_STATFS: 0xa0e, // FS_RQ_BASE + 14
  FS_SYNC: 0xa0f, // FS_RQ_BASE + 15: commit: every write so far on stable storage
  FS_FSCK: 0xa10, // FS_RQ_BASE + 16: check the file system (and repair it) while it is not in use
  FS_MKFS: 0xa11, // FS_RQ_BASE + 17: make a new, empty file system (refused while files are open)
} as const;
export type Fs = (typeof Fs)[keyof typeof Fs];

export const Common = {
  COMMON_PING: 0xe00, // COMMON_RQ_BASE + 0: the null message: no arguments, empty reply (benchmarks, liveness)
  COMMON_HEARTBEAT: 0xe01, // COMMON_RQ_BASE + 1: rs's heartbeat: answered by libsys from the event loop, ahead of queued work
  COMMON_FAULT: 0xe02, // COMMON_RQ_BASE + 2: arm a fault hook (crash, slow, corrupt) in a server: only from a caller with the chaos privilege
  COMMON_CHANNEL: 0xe03, // COMMON_RQ_BASE + 3: the kernel opens or revokes a channel into a server (from the kernel only; libsys answers it)
} as const;
export type Common = (typeof Common)[keyof typeof Common];

/**
 * The kernel tells the scheduling server (MINIX's SCHEDULING_NO_QUANTUM): a process used
 * up its quantum. One-way; sched answers, when it likes, with SYS_SCHEDULE.
 */
export const Sched = {
  SCHED_NO_QUANTUM: 0xf00, // SCHED_RQ_BASE + 0: from KERNEL only
} as const;
export type Sched = (typeof Sched)[keyof typeof Sched];

export const Hw = {
  HW_IO: 0x1200, // HW_RQ_BASE + 0: a vector of port operations, executed atomically by the bus
  HW_FAULT: 0x1201, // HW_RQ_BASE + 1: inject or clear a hardware fault
  HW_INFO: 0x1202, // HW_RQ_BASE + 2: the machine's boot id and counters (readiness, restart detection)
} as const;
export type Hw = (typeof Hw)[keyof typeof Hw];

/**
 * Notification bits from HARDWARE: bit n (0..15) is IRQ line n; this bit says the machine
 * restarted, so a driver sets its device up again.
 */
export const NOTIFY_HW_RESET = 0x40000000;

const NAMES = new Map<number, string>([[NOTIFY_MESSAGE, "NOTIFY"]]);
for (const table of [SysCall, Bdev, Cdev, Rs, Workload, Vfs, Fs, Common, Sched, Hw]) {
  for (const [name, value] of Object.entries(table)) NAMES.set(value, name);
}

/** Human name of a message type, for logs and metrics labels. */
export function typeName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16)}`;
}

/** Is this type number one mkos defines? */
export function isKnownType(type: number): boolean {
  return NAMES.has(type);
}
