// The privilege table (etc/system.yaml, MINIX's system.conf): every service, what it may
// do, where it runs and how it is restarted. Loaded and validated at boot: a bad file
// stops boot with an error naming the file, the line and the offending value.
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { INSTANCE_RE, KERNEL, KernelCalls, LABEL_RE, type ErrDetail, type GrantableCall } from "#abi";
import { HARDWARE_USER, SYS_USER } from "./credentials.ts";
import { LocalError } from "./errors.ts";

/** Kernel calls a service may be granted, by the name used in system.yaml (from the ABI's one table). */
const CallNames = Object.fromEntries(
  Object.entries(KernelCalls)
    .filter(([, c]) => c.grant)
    .map(([type, c]) => [c.name, Number(type)]),
) as Record<GrantableCall, number>;
type CallName = GrantableCall;
/** Calls every incarnation may make about itself. */
export const ALWAYS_ALLOWED: readonly number[] = Object.entries(KernelCalls)
  .filter(([, c]) => !c.grant)
  .map(([type]) => Number(type));

/** Labels a service may not take: the kernel's, the emulator's, and the NATS system account's user. */
const RESERVED_LABELS: readonly string[] = [KERNEL, HARDWARE_USER, SYS_USER];
/** Ports only kernel-core touches: the PIC (0x20-0x21, 0xA0-0xA1) and the PIT, which drives its clock. */
const KERNEL_PORTS: readonly [number, number, string][] = [
  [0x20, 0x21, "the master PIC"],
  [0x40, 0x43, "the PIT"],
  [0xa0, 0xa1, "the slave PIC"],
];
/** IRQ lines only kernel-core owns: 0 (the PIT: the kernel's clock tick) and 2 (the PIC cascade). */
const KERNEL_IRQS: readonly number[] = [0, 2];

const Placement = { KERNEL: "kernel", USER: "user" } as const;
type Placement = (typeof Placement)[keyof typeof Placement];

interface RestartPolicy {
  heartbeatMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  intensity: { restarts: number; seconds: number };
  /** Keep a warm standby incarnation started (process mode): a crash is a hand-over, not a Node start. */
  standby: boolean;
}

/** A service's scheduling settings (`sched:`); absent values take its class's defaults. */
interface SchedSettings {
  priority?: number;
  quantumMs?: number;
  nice?: number;
}

/** What a `block` privilege grants on a disk area: read, write, or both. */
type BlockAccess = "r" | "w" | "rw";

/** A named range of the disk's sectors (hardware.disk.areas), first..last inclusive. */
interface DiskArea {
  name: string;
  first: number;
  last: number;
}

/**
 * How a sendrec between two user processes travels (DESIGN.md, "IPC"): `trap` through the
 * kernel both ways; `reply-direct` forwarded by the kernel with a one-shot reply right, the
 * server answering straight to the caller's inbox; `channel` a subject of the pair's own that
 * the kernel opens once (SYS_CHANNEL) and revokes at either death: 2 hops, no kernel between.
 */
const IPC_PATHS = ["trap", "reply-direct", "channel"] as const;
type IpcPath = (typeof IPC_PATHS)[number];

/** One `block` grant, resolved: a block driver, an area of its disk, and the access. */
export interface BlockGrant {
  device: string;
  area: string;
  first: number;
  last: number;
  access: BlockAccess;
}

export interface ServicePrivileges {
  label: string;
  placement: Placement;
  module?: string; // what kernel placement imports (exports the server)
  command?: string[]; // what user placement runs; absent for clients and tools
  ipc: string[]; // labels it may message
  paths: Map<string, IpcPath>; // the path a sendrec to a label takes where it is not the trap (README, "IPC paths")
  calls: number[];
  callNames: CallName[];
  io: [number, number][]; // inclusive port ranges
  irq: number[];
  console: boolean; // may use the serial console (mk.console.in/out)
  events: boolean; // may read the kernel event stream (mk.ev.>)
  metrics: boolean; // may read the kernel's statistics (mk.stat: IPC rates, latency, the process table)
  chaos: boolean; // may arm fault hooks (COMMON_FAULT) in services it may message
  block: BlockGrant[]; // disk areas it may read or write through a block driver (the driver checks)
  input: string[]; // character devices whose input (typed lines) it may read (the driver checks)
  instances: number; // a tool run several times at once: each run its own endpoint `label.id`, at most this many (0: one incarnation at a time)
  restart: RestartPolicy;
  sched: SchedSettings;
  line: number;
}

/** kernel.sched: whether kernel-core schedules, and how many mkos processes run at once. */
interface KernelSched {
  enabled: boolean;
  cpus: number;
}

export interface SystemTable {
  file: string;
  kernel: { httpPort: number; trapTimeoutMs: number; pitHz: number; sched: KernelSched };
  hardware: { command: string[]; diskImage: string; diskSectors: number; areas: DiskArea[] };
  services: Map<string, ServicePrivileges>;
}

/** MK_ERR_SYSTEM_TABLE: the table at `file` cannot be read, or `line` of it is not valid. */
export class SystemTableError extends LocalError<"MK_ERR_SYSTEM_TABLE"> {
  readonly file: string;
  /** The offending line (1-based); absent when the file cannot be read at all. */
  readonly line?: number;
  /** The offending entry (`services.mfs.block.ata.minix`), when one is. */
  readonly path?: string;
  constructor(message: string, file: string, line?: number, options?: ErrorOptions & { path?: string; detail?: ErrDetail }) {
    super("MK_ERR_SYSTEM_TABLE", message, options);
    this.name = "SystemTableError";
    this.file = file;
    this.line = line;
    this.path = options?.path;
  }
}

const DEFAULT_RESTART: RestartPolicy = {
  heartbeatMs: 1000,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  intensity: { restarts: 5, seconds: 10 },
  standby: false,
};

class Ctx {
  readonly file: string;
  readonly lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }
  fail(node: Node | null | undefined, path: string, what: string): never {
    const offset = node?.range?.[0] ?? 0;
    const { line } = this.lines.linePos(offset);
    throw new SystemTableError(`${this.file}:${line}: ${path}: ${what}`, this.file, line, { path });
  }
  line(node: Node | null | undefined): number {
    return this.lines.linePos(node?.range?.[0] ?? 0).line;
  }
}

export function loadSystemTable(file: string): SystemTable {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SystemTableError(`${file}: cannot read: ${(e as Error).message}`, file, undefined, { cause: e });
  }
  return parseSystemTable(text, file);
}

export function parseSystemTable(text: string, file = "system.yaml"): SystemTable {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const ctx: Ctx = new Ctx(file, lines);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? 0;
    throw new SystemTableError(`${file}:${line}: YAML: ${e.message.split("\n")[0]}`, file, line);
  }
  const root = doc.contents;
  if (!isMap(root)) ctx.fail(root ?? undefined, "(top)", "expected a mapping with kernel, hardware and services");
  const top = mapEntries(ctx, root, "(top)", ["kernel", "hardware", "services"]);

  const k = top.get("kernel");
  const kernelMap = k ? mapEntries(ctx, k, "kernel", ["http_port", "trap_timeout_ms", "pit_hz", "sched"]) : new Map<string, Node>();
  const ks = kernelMap.get("sched");
  const ksMap = ks ? mapEntries(ctx, ks, "kernel.sched", ["enabled", "cpus"]) : new Map<string, Node>();
  const kernel = {
    httpPort: optInt(ctx, kernelMap.get("http_port"), "kernel.http_port", 0, 65535) ?? 0,
    trapTimeoutMs: optInt(ctx, kernelMap.get("trap_timeout_ms"), "kernel.trap_timeout_ms", 1, 600_000) ?? 30_000,
    pitHz: optInt(ctx, kernelMap.get("pit_hz"), "kernel.pit_hz", 19, 1000) ?? 100,
    sched: {
      enabled: ksMap.has("enabled") ? bool(ctx, ksMap.get("enabled")!, "kernel.sched.enabled") : ks !== undefined,
      cpus: optInt(ctx, ksMap.get("cpus"), "kernel.sched.cpus", 1, 64) ?? 1,
    },
  };

  const h: Node | undefined = top.get("hardware");
  if (!h) ctx.fail(root, "hardware", "missing (the hardware emulator's command and disk)");
  const hw = mapEntries(ctx, h, "hardware", ["command", "disk"]);
  const diskNode: Node | undefined = hw.get("disk");
  if (!diskNode) ctx.fail(h, "hardware.disk", "missing");
  const disk = mapEntries(ctx, diskNode, "hardware.disk", ["image", "sectors", "areas"]);
  const diskSectors = optInt(ctx, disk.get("sectors"), "hardware.disk.sectors", 16, 0x0fffffff) ?? 131072;
  const hardware = {
    command: strList(ctx, hw.get("command"), "hardware.command", true),
    diskImage: str(ctx, disk.get("image"), "hardware.disk.image"),
    diskSectors,
    areas: parseAreas(ctx, disk.get("areas"), diskSectors),
  };

  const s: Node | undefined = top.get("services");
  if (!s) ctx.fail(root, "services", "missing");
  if (!isMap(s)) ctx.fail(s, "services", "expected a mapping of label to privileges");
  const services = new Map<string, ServicePrivileges>();
  for (const pair of s.items) {
    const keyNode = pair.key as Node;
    const label = isScalar(keyNode) ? String(keyNode.value) : "";
    if (!LABEL_RE.test(label)) ctx.fail(keyNode, `services.${label}`, `label must match ${LABEL_RE}`);
    if (RESERVED_LABELS.includes(label))
      ctx.fail(
        keyNode,
        `services.${label}`,
        `label is reserved (${RESERVED_LABELS.join(", ")} are the kernel's, the emulator's and the NATS system account's)`,
      );
    services.set(label, parseService(ctx, label, pair.value as Node, hardware.areas));
  }
  const field = (label: string, key: string, i: number): Node => {
    const node = (s.get(label, true) as Node & { get(k: string, keep: true): Node }).get(key, true);
    return isSeq(node) ? (node.items[i] as Node) : node;
  };
  for (const svc of services.values()) {
    for (const [i, target] of svc.ipc.entries()) {
      if (/[*>]/.test(target))
        ctx.fail(
          field(svc.label, "ipc", i),
          `services.${svc.label}.ipc[${i}]`,
          `"${target}": wildcards are not allowed; name each service it may message`,
        );
      if (!services.has(target))
        ctx.fail(field(svc.label, "ipc", i), `services.${svc.label}.ipc[${i}]`, `"${target}" is not a service in this table`);
    }
    // A device privilege means nothing without the ipc to reach the device, and names a driver of this table.
    const devices = [...new Set([...svc.block.map((g) => g.device), ...svc.input])];
    for (const device of devices) {
      const where = svc.input.includes(device) && !svc.block.some((g) => g.device === device) ? "input" : "block";
      if (!services.has(device))
        ctx.fail(field(svc.label, where, 0), `services.${svc.label}.${where}`, `"${device}" is not a service in this table`);
      if (!svc.ipc.includes(device))
        ctx.fail(
          field(svc.label, where, 0),
          `services.${svc.label}.${where}`,
          `"${device}" is not in its ipc list: it could not reach the device`,
        );
    }
  }
  checkIsolation(ctx, services, field);
  return { file, kernel, hardware, services };
}

/**
 * What would break isolation is refused: a port or IRQ line granted to two services (one
 * device, two drivers), and the ports and lines only the kernel may touch.
 */
function checkIsolation(ctx: Ctx, services: Map<string, ServicePrivileges>, field: (label: string, key: string, i: number) => Node): void {
  const hex = (n: number) => `0x${n.toString(16).toUpperCase()}`;
  const ports: { label: string; i: number; lo: number; hi: number }[] = [];
  const irqs = new Map<number, string>();
  for (const svc of services.values()) {
    svc.io.forEach(([lo, hi], i) => {
      const where = `services.${svc.label}.io[${i}]`;
      for (const [klo, khi, what] of KERNEL_PORTS) {
        if (lo <= khi && klo <= hi)
          ctx.fail(
            field(svc.label, "io", i),
            where,
            `${hex(lo)}-${hex(hi)} includes ${hex(klo)}-${hex(khi)}, ${what}'s ports: only kernel-core may touch them`,
          );
      }
      for (const o of ports) {
        if (lo <= o.hi && o.lo <= hi) {
          const line = ctx.line(field(o.label, "io", o.i));
          ctx.fail(
            field(svc.label, "io", i),
            where,
            `${hex(lo)}-${hex(hi)} overlaps ${o.label}'s ${hex(o.lo)}-${hex(o.hi)} (line ${line}): two services may not drive the same device`,
          );
        }
      }
      ports.push({ label: svc.label, i, lo, hi });
    });
    svc.irq.forEach((line, i) => {
      const where = `services.${svc.label}.irq[${i}]`;
      if (KERNEL_IRQS.includes(line)) ctx.fail(field(svc.label, "irq", i), where, `IRQ ${line} belongs to kernel-core`);
      const other = irqs.get(line);
      if (other) ctx.fail(field(svc.label, "irq", i), where, `IRQ ${line} is already ${other}'s: two services may not own one line`);
      irqs.set(line, svc.label);
    });
  }
}

/**
 * hardware.disk.areas: name -> "FIRST-LAST", each a sector number or a percentage of the
 * disk ("0%-50%": the first half), so a table works for any disk size. Areas may not
 * overlap: a sector belongs to one area, whose `block` privileges say who may touch it.
 */
function parseAreas(ctx: Ctx, node: Node | undefined, sectors: number): DiskArea[] {
  if (!node) return [];
  const m = mapEntries(ctx, node, "hardware.disk.areas", null);
  const areas: DiskArea[] = [];
  for (const [name, v] of m) {
    const p = `hardware.disk.areas.${name}`;
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) ctx.fail(v, p, "an area's name is lower-case letters, digits and -");
    const text = isScalar(v) ? String(v.value) : "";
    const r = /^\s*([0-9]{1,10})(%?)\s*-\s*([0-9]{1,10})(%?)\s*$/.exec(text);
    if (!r) ctx.fail(v, p, `"${text}" is not a range like 0-65535 or 50%-100%`);
    const at = (n: string, pct: string) => (pct ? Math.floor((Number(n) * sectors) / 100) : Number(n));
    const first = at(r[1], r[2]);
    // A percentage end is exclusive (50%-100% ends at the last sector); a number is the last sector itself.
    const last = r[4] ? at(r[3], r[4]) - 1 : Number(r[3]);
    if ((r[2] && Number(r[1]) > 100) || (r[4] && Number(r[3]) > 100)) ctx.fail(v, p, "a percentage is at most 100%");
    if (last < first) ctx.fail(v, p, `"${text}" ends before it starts`);
    if (last >= sectors) ctx.fail(v, p, `"${text}" goes past the disk's last sector, ${sectors - 1}`);
    for (const o of areas) {
      if (first <= o.last && o.first <= last)
        ctx.fail(v, p, `sectors ${first}-${last} overlap area ${o.name} (${o.first}-${o.last}): a sector belongs to one area`);
    }
    areas.push({ name, first, last });
  }
  return areas;
}

/** `block: { <driver>: { <area>: r | w | rw } }`: the disk areas a service may read or write. */
function parseBlock(ctx: Ctx, node: Node | undefined, p: string, areas: DiskArea[]): BlockGrant[] {
  if (!node) return [];
  const grants: BlockGrant[] = [];
  for (const [device, byArea] of mapEntries(ctx, node, p, null)) {
    for (const [name, accessNode] of mapEntries(ctx, byArea, `${p}.${device}`, null)) {
      const area = areas.find((a) => a.name === name);
      if (!area)
        ctx.fail(
          accessNode,
          `${p}.${device}.${name}`,
          `no disk area "${name}" in hardware.disk.areas (${areas.map((a) => a.name).join(", ") || "none defined"})`,
        );
      const access = isScalar(accessNode) ? String(accessNode.value) : "";
      if (access !== "r" && access !== "w" && access !== "rw")
        ctx.fail(accessNode, `${p}.${device}.${name}`, `"${access}" is not r, w or rw`);
      grants.push({ device, area: name, first: area.first, last: area.last, access });
    }
  }
  return grants;
}

/** `paths: { mfs: reply-direct }`: each key a label of the service's ipc list, each value a path. */
function parsePaths(ctx: Ctx, node: Node | undefined, p: string, ipc: string[]): Map<string, IpcPath> {
  const paths = new Map<string, IpcPath>();
  if (!node) return paths;
  for (const [label, v] of mapEntries(ctx, node, `${p}.paths`, null)) {
    const where = `${p}.paths.${label}`;
    if (!ipc.includes(label)) ctx.fail(v, where, `"${label}" is not in its ipc list: a path is chosen only for a label it may message`);
    const path = isScalar(v) ? String(v.value) : "";
    if (!(IPC_PATHS as readonly string[]).includes(path)) ctx.fail(v, where, `"${path}" is not a path (${IPC_PATHS.join(", ")})`);
    paths.set(label, path as IpcPath);
  }
  return paths;
}

function parseService(ctx: Ctx, label: string, node: Node, areas: DiskArea[]): ServicePrivileges {
  const p = `services.${label}`;
  const m = mapEntries(ctx, node, p, [
    "placement",
    "module",
    "command",
    "ipc",
    "paths",
    "calls",
    "io",
    "irq",
    "console",
    "events",
    "metrics",
    "chaos",
    "block",
    "input",
    "instances",
    "restart",
    "sched",
  ]);
  const placementNode = m.get("placement");
  const placement = placementNode ? str(ctx, placementNode, `${p}.placement`) : "user";
  if (placement !== "kernel" && placement !== "user") ctx.fail(placementNode, `${p}.placement`, `"${placement}" is not kernel or user`);
  const module = m.has("module") ? str(ctx, m.get("module"), `${p}.module`) : undefined;
  if (placement === "kernel" && !module) ctx.fail(node, `${p}.module`, "placement kernel needs a module to load into kernel-core");
  const command = m.has("command") ? strList(ctx, m.get("command"), `${p}.command`, true) : undefined;

  const callNames = strList(ctx, m.get("calls"), `${p}.calls`, false).map((name, i) => {
    if (!(name in CallNames)) {
      ctx.fail(
        itemNode(m.get("calls"), i),
        `${p}.calls[${i}]`,
        `unknown kernel call "${name}" (known: ${Object.keys(CallNames).join(", ")})`,
      );
    }
    return name as CallName;
  });
  noDuplicates(ctx, m.get("calls"), `${p}.calls`, callNames);
  const ipc = strList(ctx, m.get("ipc"), `${p}.ipc`, false);
  noDuplicates(ctx, m.get("ipc"), `${p}.ipc`, ipc);
  const paths = parsePaths(ctx, m.get("paths"), p, ipc);
  const io = strOrIntList(ctx, m.get("io"), `${p}.io`).map(([v, n], i): [number, number] => {
    const r = parsePortRange(v);
    if (!r) ctx.fail(itemNode(m.get("io"), i) ?? n, `${p}.io[${i}]`, `"${v}" is not a port or a range like 0x1F0-0x1F7`);
    return r;
  });
  const irq = strOrIntList(ctx, m.get("irq"), `${p}.irq`).map(([v], i) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 15) ctx.fail(itemNode(m.get("irq"), i), `${p}.irq[${i}]`, `"${v}" is not an IRQ line 0-15`);
    return n;
  });
  const consoleNode = m.get("console");
  const consoleOk = consoleNode ? bool(ctx, consoleNode, `${p}.console`) : false;
  const eventsNode = m.get("events");
  const eventsOk = eventsNode ? bool(ctx, eventsNode, `${p}.events`) : false;
  const metricsNode = m.get("metrics");
  const metricsOk = metricsNode ? bool(ctx, metricsNode, `${p}.metrics`) : false;
  const chaosNode = m.get("chaos");
  const chaosOk = chaosNode ? bool(ctx, chaosNode, `${p}.chaos`) : false;
  return {
    label,
    placement,
    module,
    command,
    ipc,
    paths,
    calls: callNames.map((c) => CallNames[c]),
    callNames,
    io,
    irq,
    console: consoleOk,
    events: eventsOk,
    metrics: metricsOk,
    chaos: chaosOk,
    block: parseBlock(ctx, m.get("block"), `${p}.block`, areas),
    input: strList(ctx, m.get("input"), `${p}.input`, false),
    instances: parseInstances(ctx, m.get("instances"), p, label, command),
    restart: parseRestart(ctx, m.get("restart"), `${p}.restart`),
    sched: parseSched(ctx, m.get("sched"), `${p}.sched`),
    line: ctx.line(node),
  };
}

/**
 * `instances: N`: a client (no command) that may run N times at once, each run an instance
 * `label.id` (INSTANCE_RE: so the label leaves room for the id within 32 characters).
 */
function parseInstances(ctx: Ctx, node: Node | undefined, p: string, label: string, command: string[] | undefined): number {
  const n = optInt(ctx, node, `${p}.instances`, 1, 64);
  if (n === undefined) return 0;
  if (command) ctx.fail(node, `${p}.instances`, "only a client (no command) runs as instances: a service is one incarnation at a time");
  if (label.length > 23)
    ctx.fail(
      node,
      `${p}.instances`,
      `a label with instances is at most 23 characters (${label} has ${label.length}): each instance is label.id`,
    );
  return n;
}

function parseRestart(ctx: Ctx, node: Node | undefined, p: string): RestartPolicy {
  if (!node) return DEFAULT_RESTART;
  const m = mapEntries(ctx, node, p, ["heartbeat_ms", "backoff_min_ms", "backoff_max_ms", "intensity", "standby"]);
  const r: RestartPolicy = {
    heartbeatMs: optInt(ctx, m.get("heartbeat_ms"), `${p}.heartbeat_ms`, 10, 600_000) ?? DEFAULT_RESTART.heartbeatMs,
    backoffMinMs: optInt(ctx, m.get("backoff_min_ms"), `${p}.backoff_min_ms`, 0, 600_000) ?? DEFAULT_RESTART.backoffMinMs,
    backoffMaxMs: optInt(ctx, m.get("backoff_max_ms"), `${p}.backoff_max_ms`, 0, 3_600_000) ?? DEFAULT_RESTART.backoffMaxMs,
    intensity: DEFAULT_RESTART.intensity,
    standby: m.has("standby") ? bool(ctx, m.get("standby")!, `${p}.standby`) : false,
  };
  if (r.backoffMaxMs < r.backoffMinMs) ctx.fail(m.get("backoff_max_ms"), `${p}.backoff_max_ms`, "is below backoff_min_ms");
  const i = m.get("intensity");
  if (i) {
    const im = mapEntries(ctx, i, `${p}.intensity`, ["restarts", "seconds"]);
    r.intensity = {
      restarts: optInt(ctx, im.get("restarts"), `${p}.intensity.restarts`, 1, 1000) ?? 5,
      seconds: optInt(ctx, im.get("seconds"), `${p}.intensity.seconds`, 1, 86400) ?? 10,
    };
  }
  return r;
}

function parseSched(ctx: Ctx, node: Node | undefined, p: string): SchedSettings {
  if (!node) return {};
  const m = mapEntries(ctx, node, p, ["priority", "quantum_ms", "nice"]);
  const out: SchedSettings = {};
  const priority = optInt(ctx, m.get("priority"), `${p}.priority`, 0, 15);
  const quantumMs = optInt(ctx, m.get("quantum_ms"), `${p}.quantum_ms`, 1, 10_000);
  const nice = optInt(ctx, m.get("nice"), `${p}.nice`, -20, 19);
  if (priority !== undefined) out.priority = priority;
  if (quantumMs !== undefined) out.quantumMs = quantumMs;
  if (nice !== undefined) out.nice = nice;
  return out;
}

function parsePortRange(v: string): [number, number] | undefined {
  const m = /^\s*(0x[0-9a-fA-F]{1,4}|[0-9]{1,5})(?:\s*-\s*(0x[0-9a-fA-F]{1,4}|[0-9]{1,5}))?\s*$/.exec(v);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  if (lo > 0xffff || hi > 0xffff || hi < lo) return undefined;
  return [lo, hi];
}

/** A list that names the same entry twice is refused at the second (a grant is given once). */
function noDuplicates(ctx: Ctx, node: Node | undefined, p: string, list: readonly string[]): void {
  const seen = new Set<string>();
  list.forEach((v, i) => {
    if (seen.has(v)) ctx.fail(itemNode(node, i) ?? node, `${p}[${i}]`, `"${v}" is listed twice`);
    seen.add(v);
  });
}

function itemNode(node: Node | undefined, i: number): Node | undefined {
  return isSeq(node) ? (node.items[i] as Node) : node;
}

/** A mapping's entries; with `known`, any other key is refused (null: any key). */
function mapEntries(ctx: Ctx, node: Node, p: string, known: string[] | null): Map<string, Node> {
  if (!isMap(node)) ctx.fail(node, p, "expected a mapping");
  const out = new Map<string, Node>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (known && !known.includes(key)) ctx.fail(pair.key as Node, `${p}.${key}`, `unknown key (expected one of ${known.join(", ")})`);
    out.set(key, pair.value as Node);
  }
  return out;
}

function str(ctx: Ctx, node: Node | undefined, p: string): string {
  if (!isScalar(node) || typeof node.value !== "string" || node.value === "") ctx.fail(node, p, "expected a non-empty string");
  return node.value;
}

function bool(ctx: Ctx, node: Node, p: string): boolean {
  if (!isScalar(node) || typeof node.value !== "boolean") ctx.fail(node, p, "expected true or false");
  return node.value;
}

function optInt(ctx: Ctx, node: Node | undefined, p: string, min: number, max: number): number | undefined {
  if (node === undefined) return undefined;
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    ctx.fail(node, p, `expected an integer from ${min} to ${max}, got ${isScalar(node) ? JSON.stringify(node.value) : "a collection"}`);
  }
  return v;
}

function strList(ctx: Ctx, node: Node | undefined, p: string, nonEmpty: boolean): string[] {
  if (node === undefined) {
    if (nonEmpty) ctx.fail(node, p, "missing");
    return [];
  }
  if (!isSeq(node)) ctx.fail(node, p, "expected a list");
  if (nonEmpty && node.items.length === 0) ctx.fail(node, p, "must not be empty");
  return node.items.map((item, i) => str(ctx, item as Node, `${p}[${i}]`));
}

function strOrIntList(ctx: Ctx, node: Node | undefined, p: string): [string, Node][] {
  if (node === undefined) return [];
  if (!isSeq(node)) ctx.fail(node, p, "expected a list");
  return node.items.map((item, i) => {
    if (!isScalar(item) || (typeof item.value !== "string" && typeof item.value !== "number"))
      ctx.fail(item as Node, `${p}[${i}]`, "expected a port, range or number");
    return [String(item.value), item as Node];
  });
}

/** A service's privileges as getinfo and the endpoint table show them (ports in hex). */
export function privilegeSummary(p: ServicePrivileges): {
  ipc: string[];
  calls: string[];
  io: string[];
  irq: number[];
  console: boolean;
  events: boolean;
  metrics: boolean;
  chaos: boolean;
  block?: BlockGrant[];
  input?: string[];
} {
  const hex = (n: number) => `0x${n.toString(16)}`;
  return {
    ipc: p.ipc,
    calls: p.callNames,
    io: p.io.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)),
    irq: p.irq,
    console: p.console,
    events: p.events,
    metrics: p.metrics,
    chaos: p.chaos,
    ...(p.block.length ? { block: p.block } : {}),
    ...(p.input.length ? { input: p.input } : {}),
  };
}

/** What other services may do with a driver's device, for the driver to check each request against: its block grants and who may read its input. */
export function deviceAccess(
  table: SystemTable,
  driver: string,
): { sectors: number; block: (BlockGrant & { label: string })[]; input: string[] } {
  const block: (BlockGrant & { label: string })[] = [];
  const input: string[] = [];
  for (const svc of table.services.values()) {
    for (const g of svc.block) if (g.device === driver) block.push({ label: svc.label, ...g });
    if (svc.input.includes(driver)) input.push(svc.label);
  }
  return { sectors: table.hardware.diskSectors, block, input };
}

/**
 * The privileges of a caller: a label of the table, or an instance (`label.id`) of a label
 * whose entry allows instances. Anything else has none.
 */
export function privilegesOf(table: SystemTable, caller: string): ServicePrivileges | undefined {
  const own = table.services.get(caller);
  if (own) return own;
  const m = INSTANCE_RE.exec(caller);
  const base = m ? table.services.get(m[1]) : undefined;
  return base && base.instances > 0 ? base : undefined;
}

/** Does the caller's table entry grant this port? */
export function portAllowed(svc: ServicePrivileges, port: number): boolean {
  return svc.io.some(([lo, hi]) => port >= lo && port <= hi);
}
