// Message type numbers. Each protocol owns one range, as MINIX's com.h does:
//   0x400 character devices (CDEV)     0x500 block devices (BDEV)
//   0x600 kernel calls (SYS)           0x700 reincarnation server (RS)
//   0xA00 file systems (FS)            0xE00 common requests (COMMON)
//   0xF00 scheduling (SCHED)           0x1000 notifications
//   0x1200 hardware bus (HW, kernel-core <-> hardware-emulator only)
// A reply is not numbered: it carries the request's type and a status (0 or -errno).

export const CDEV_RQ_BASE = 0x400;
export const BDEV_RQ_BASE = 0x500;
export const KERNEL_CALL = 0x600;
export const RS_RQ_BASE = 0x700;
export const FS_RQ_BASE = 0xa00;
export const COMMON_RQ_BASE = 0xe00;
export const SCHED_RQ_BASE = 0xf00;
export const NOTIFY_MESSAGE = 0x1000;
export const HW_RQ_BASE = 0x1200;

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
} as const;
export type SysCall = (typeof SysCall)[keyof typeof SysCall];

export const Bdev = {
  BDEV_OPEN: 0x500, // BDEV_RQ_BASE + 0
  BDEV_CLOSE: 0x501, // BDEV_RQ_BASE + 1
  BDEV_READ: 0x503, // BDEV_RQ_BASE + 3
  BDEV_WRITE: 0x504, // BDEV_RQ_BASE + 4
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

export const Common = {
  COMMON_PING: 0xe00, // COMMON_RQ_BASE + 0: the null message: no arguments, empty reply (benchmarks, liveness)
  COMMON_HEARTBEAT: 0xe01, // COMMON_RQ_BASE + 1: rs's heartbeat: answered by libsys from the event loop, ahead of queued work
  COMMON_FAULT: 0xe02, // COMMON_RQ_BASE + 2: arm a fault hook (crash, slow, corrupt) in a server: only from a caller with the chaos privilege
} as const;
export type Common = (typeof Common)[keyof typeof Common];

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
for (const table of [SysCall, Bdev, Cdev, Rs, Common, Hw]) {
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
