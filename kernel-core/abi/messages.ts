// Message layouts, named by who sends to whom (MINIX's mess_lsys_krn_sys_devio). Each
// request type has an argument shape checked on arrival; replies are shaped as well.
import { f, type InferShape, type Shape } from "./schema.ts";
import { Bdev, Cdev, Common, Hw, Sys } from "./com.ts";

const port = f.u16;
const label = f.str(32, /^[a-z][a-z0-9-]{0,31}$/);

export const PortOp = f.enum("inb", "inw", "inl", "outb", "outw", "outl");
export const StringOp = f.enum("insb", "insw", "insl", "outsb", "outsw", "outsl");
export const VecOp = f.enum("inb", "inw", "inl", "outb", "outw", "outl", "insb", "insw", "insl", "outsb", "outsw", "outsl");

/** Largest string transfer, in units: 1024 words = 4 sectors... times 8 allows a 16 KiB burst. */
export const MAX_STRING_UNITS = 65536;
export const MAX_VECTOR = 256;

export const Layouts = {
  // lsys -> krn
  [Sys.SYS_HELLO]: { req: { pid: f.u32, host: f.str(255), cid: f.u32 }, rep: { generation: f.u32, previous: f.u32 } },
  [Sys.SYS_READY]: { req: {}, rep: {} },
  [Sys.SYS_DEVIO]: { req: { op: PortOp, port, value: f.opt(f.u32) }, rep: { value: f.u32 } },
  [Sys.SYS_SDEVIO]: { req: { op: StringOp, port, count: f.uint(MAX_STRING_UNITS) }, rep: { count: f.u32 } },
  [Sys.SYS_VDEVIO]: {
    req: { ops: f.list(f.tuple(VecOp, port, f.u32), MAX_VECTOR) },
    rep: { values: f.list(f.u32, MAX_VECTOR) },
  },
  [Sys.SYS_IRQCTL]: {
    req: { request: f.enum("setpolicy", "rmpolicy", "enable", "disable"), irq: f.uint(15), policy: f.opt(f.u32) },
    rep: {},
  },
  [Sys.SYS_GETINFO]: {
    req: { what: f.enum("endpoints", "endpoint", "privileges"), label: f.opt(label), after: f.opt(f.u32), waitMs: f.opt(f.uint(600_000)) },
    rep: { endpoints: f.opt(f.list(f.unknown, 1024)), privileges: f.opt(f.unknown) },
  },
  // client -> block driver
  [Bdev.BDEV_OPEN]: { req: { minor: f.u8, access: f.opt(f.enum("r", "w", "rw")) }, rep: {} },
  [Bdev.BDEV_CLOSE]: { req: { minor: f.u8 }, rep: {} },
  [Bdev.BDEV_READ]: { req: { minor: f.u8, lba: f.u32, count: f.uint(1024) }, rep: { count: f.u32 } },
  [Bdev.BDEV_WRITE]: { req: { minor: f.u8, lba: f.u32, count: f.uint(1024) }, rep: { count: f.u32 } },
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
  // anyone -> anyone
  [Common.COMMON_PING]: { req: {}, rep: {} },
  // krn -> hardware bus
  [Hw.HW_IO]: { req: { ops: f.list(f.tuple(VecOp, port, f.u32), MAX_VECTOR) }, rep: { values: f.list(f.u32, MAX_VECTOR) } },
  [Hw.HW_FAULT]: {
    req: {
      fault: f.enum("bad-sector", "lost-irq", "spurious-irq", "stuck-bsy", "clear"),
      lba: f.opt(f.u32),
      count: f.opt(f.u32),
      irq: f.opt(f.uint(15)),
      ms: f.opt(f.u32),
    },
    rep: {},
  },
} as const satisfies Record<number, { req: Shape; rep: Shape }>;

export type Layouts = typeof Layouts;
export type LayoutType = keyof Layouts;
export type ReqArgs<T extends LayoutType> = InferShape<Layouts[T]["req"]>;
export type RepArgs<T extends LayoutType> = InferShape<Layouts[T]["rep"]>;

export type DevioRequest = ReqArgs<typeof Sys.SYS_DEVIO>;
export type DevioReply = RepArgs<typeof Sys.SYS_DEVIO>;
export type VdevioRequest = ReqArgs<typeof Sys.SYS_VDEVIO>;
export type SdevioRequest = ReqArgs<typeof Sys.SYS_SDEVIO>;
export type IrqctlRequest = ReqArgs<typeof Sys.SYS_IRQCTL>;
export type GetinfoRequest = ReqArgs<typeof Sys.SYS_GETINFO>;
export type HwIoRequest = ReqArgs<typeof Hw.HW_IO>;
export type HwFaultRequest = ReqArgs<typeof Hw.HW_FAULT>;
export type BdevReadRequest = ReqArgs<typeof Bdev.BDEV_READ>;
export type GeometryReply = RepArgs<typeof Bdev.BDEV_GEOMETRY>;

export function hasLayout(type: number): type is LayoutType {
  return Object.prototype.hasOwnProperty.call(Layouts, type);
}

/** IRQ policy bits (MINIX IRQ_REENABLE): re-enable the line after each notification. */
export const IRQ_REENABLE = 0x1;

/** One row of the endpoint table, as SYS_GETINFO returns it. */
export interface EndpointInfo {
  endpoint: string;
  label: string;
  generation: number;
  state: "starting" | "ready" | "dead";
  placement: "kernel" | "user";
  pid: number;
  host: string;
  since: number; // epoch ms of the last state change
  messages: number;
  /** From the privilege table (absent for the kernel itself). */
  privileges?: { ipc: string[]; calls: string[]; io: string[]; irq: number[] };
}
