// The measuring core of bench:ipc, shared by process mode and the container runner:
// interleaved rounds over every path, p50/p99, ratios against nats-raw of the same run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Bdev, Common, Kind, parseHops, Subjects } from "#abi";
import { Kernel } from "../kernel-core/src/kernel.ts";
import { KernelTransport } from "../kernel-core/src/ipc/kernel-transport.ts";
import { KernelMetrics } from "../kernel-core/src/metrics/metrics.ts";
import { parseSystemTable } from "#base/system-table.ts";
import {
  createLogger,
  type Credential,
  parseReply,
  type RawReply,
  startService,
  type Sys,
  systemClock,
  sysWaitEndpoint,
  trapEnvelope,
} from "#libsys";
import { Envelope } from "#base/nats-envelope.ts";
import { isLocalError } from "#base/errors.ts";
import { RequestMux } from "#base/request-mux.ts";
import { Wire } from "#base/wire.ts";
import { type DeriveOptions, deriveSystemYaml, PROJECT_ROOT } from "../services/boot/src/index.ts";
import type { CpuMeter } from "./cpu.ts";
import { RAW_SUBJECT, RELAY_DIRECT_SUBJECT, RELAY_SUBJECT } from "./raw-subject.ts";

export interface Row {
  path: string;
  p50_us: number;
  p99_us: number;
  ratio_p50: number;
  n: number;
  target?: string;
  /** Whether this run met the target (absent for a row without a target to meet). */
  target_met?: boolean;
  /** CPU µs per request by process (process mode): client, nats, kernel, ... */
  cpu_us?: Record<string, number>;
  /** p50 µs of each segment of the reply's hop trail ("kernel>bench-echo": ...), then the last stamp to the client. */
  hops_p50_us?: Record<string, number>;
}

/** Every path, in the order measured and printed, and what each one is. */
export const PATH_INFO: Record<string, string> = {
  "in-process": "an awaited function call in one process: the floor under any call",
  "nats-raw": "request/reply between two processes over NATS with libsys's own request machinery, no kernel: the baseline",
  "nats-request": "the same through nats.js's request() (two Errors and a timer per call): reference only",
  "nats-relay": "four NATS hops through a do-nothing relay process, same envelope: the trap path's floor, no kernel",
  "nats-relay-3": "three NATS hops through the same relay, the server answering the client itself: reply-direct's floor, no kernel",
  "kernel-sendrec": "a null message on the trap path: caller -> kernel-core -> server -> kernel-core -> caller",
  channel: "a null message on a channel the kernel opened: caller -> server -> caller, no kernel between",
  "reply-direct":
    "a null message on the reply-direct path: caller -> kernel-core -> server -> caller (the server answers under its one-shot reply right)",
  "in-kernel": "both parties inside kernel-core: the message is a function call",
  "ata-read-4k": "a 4 KiB read (8 sectors) from the user-space ATA driver, whose port I/O goes through kernel-core to the emulator",
  "ata-read-4k-direct": "the same read, the request and its reply on the reply-direct path",
  "ata-read-4k-channel": "the same read on a channel to the driver (its port I/O still traps into kernel-core)",
};
export const PATHS = Object.keys(PATH_INFO);

/** A row's target: what it says, and whether a measured row meets it. */
interface Target {
  text: string;
  met?: (r: { p50_us: number; ratio_p50: number }) => boolean;
}

export interface MeasureOptions {
  client: Sys; // bench-client, connected and ready
  chan?: Sys; // bench-chan: the table gives it channels to bench-echo and ata (needed for the channel rows)
  rawCred: Credential; // a user allowed to publish mk.ep.bench-echo.raw (kernel)
  systemYaml: string; // a table with bench-echo and bench-client, for the in-kernel path
  rounds: number;
  batch: number;
  only?: string[];
  cpu?: CpuMeter; // accounts CPU per request by process, when the parties' pids are known
}

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** One path of the benchmark: its request (of `data`, for a path that carries a body), its target, whether its reply has a hop trail. */
export interface BenchPath {
  path: string;
  op: (data: Uint8Array) => Promise<unknown>;
  target?: Target;
  trail?: boolean;
  /** Carries a request body of the lab's sizes (a null message otherwise). */
  sized?: true;
}

/** Sets every path up against a booted system; close() lets go of what it opened. */
export async function preparePaths(o: MeasureOptions): Promise<{ paths: BenchPath[]; close(): Promise<void> }> {
  const log = createLogger("bench");
  log.level = "warn";
  const raw: NatsConnection = await connect({
    servers: o.rawCred.servers,
    user: o.rawCred.user,
    pass: o.rawCred.password,
    name: "bench-raw",
    inboxPrefix: Subjects.kernelAnswers,
  });
  // The baseline uses the same request machinery as libsys and the kernel, so the ratios
  // measure the kernel's hops and nothing else.
  const rawMux = new RequestMux(new Wire(raw, log, systemClock), Subjects.kernelAnswers, systemClock);
  rawMux.start();
  const echoFn = async (x: Uint8Array) => x.length;
  const empty = new Uint8Array(0);
  await o.client.sendrec("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 0, count: 8 }, new Uint8Array(4096).fill(7));
  // nats-relay: the client's side is NatsTransport.sendrec's (same envelope, same reply
  // parsing); the relay forwards to the null server's current incarnation.
  const echo = (await sysWaitEndpoint(o.client, "bench-echo", 0, 10_000)).endpoint;
  // Named by incarnation, a sendrec may take the reply-direct path (the table chooses it for bench-client).
  const ata = (await sysWaitEndpoint(o.client, "ata", 0, 10_000)).endpoint;
  const chan = (): Sys => {
    if (!o.chan) throw new Error("bench/measure.ts: the channel rows need bench-chan's connection (MeasureOptions.chan)");
    return o.chan;
  };
  // The relay's two modes: on RELAY_SUBJECT four hops, on RELAY_DIRECT_SUBJECT three.
  const viaRelay =
    (subject: string) =>
    async (data: Uint8Array = empty): Promise<RawReply> =>
      parseReply(
        await rawMux.request(
          subject,
          data,
          trapEnvelope("bench-client", echo, Common.COMMON_PING, Kind.SENDREC, undefined, 30_000, o.client.self),
          5000,
        ),
      );
  const relayOp = viaRelay(RELAY_SUBJECT);
  await waitForRelay(relayOp);
  const relayDirectOp = viaRelay(RELAY_DIRECT_SUBJECT);

  // in-kernel: kernel-core's own trap path with both parties placed in the kernel.
  // No PIT reaches this kernel and nothing in it is a process of its own: no scheduling.
  const priv = parseSystemTable(o.systemYaml);
  priv.kernel.sched.enabled = false;
  const kernel = new Kernel({
    priv,
    hw: {
      io: async () => ({ values: [], data: new Uint8Array(0) }),
      fault: async () => undefined,
      info: async () => ({ boot: "bench", ioOps: 0, ticks: 0 }),
    },
    log,
    clock: systemClock,
    metrics: new KernelMetrics(false),
  });
  await startService({ label: "bench-echo", create: () => ({ handlers: {} }) }, new KernelTransport("bench-echo", kernel.ipc, log), {
    log,
  });
  const inKernel = await startService(
    { label: "bench-client", create: () => ({ handlers: {} }) },
    new KernelTransport("bench-client", kernel.ipc, log),
    { log },
  );

  const paths: BenchPath[] = [
    { path: "in-process", op: (d) => echoFn(d), sized: true },
    { path: "nats-raw", op: (d) => rawMux.request(RAW_SUBJECT, d, new Envelope(), 5000), sized: true },
    {
      path: "nats-request",
      op: () => raw.request(RAW_SUBJECT, empty, { timeout: 5000 }),
      target: { text: "info: nats.js request(), not the baseline" },
    },
    {
      path: "nats-relay",
      op: relayOp,
      target: { text: "info: kernel-sendrec's four hops and envelope, no kernel" },
      trail: true,
      sized: true,
    },
    {
      path: "nats-relay-3",
      op: relayDirectOp,
      target: { text: "info: reply-direct's three hops and envelope, no kernel" },
      trail: true,
      sized: true,
    },
    {
      path: "kernel-sendrec",
      op: (d) => o.client.sendrec("bench-echo", Common.COMMON_PING, {}, d),
      sized: true,
      target: { text: "p50 <= 2.5x nats-raw", met: (r) => r.ratio_p50 <= 2.5 },
      trail: true,
    },
    {
      path: "channel",
      op: (d) => chan().sendrec(echo, Common.COMMON_PING, {}, d),
      sized: true,
      target: { text: "p50 <= 1.1x nats-raw", met: (r) => r.ratio_p50 <= 1.1 },
      trail: true,
    },
    {
      path: "reply-direct",
      op: (d) => o.client.sendrec(echo, Common.COMMON_PING, {}, d),
      sized: true,
      target: { text: "p50 <= 2.0x nats-raw", met: (r) => r.ratio_p50 <= 2.0 },
      trail: true,
    },
    {
      path: "in-kernel",
      op: (d) => inKernel.sys.sendrec("bench-echo", Common.COMMON_PING, {}, d),
      sized: true,
      target: { text: "p50 < 5 us", met: (r) => r.p50_us < 5 },
    },
    {
      path: "ata-read-4k",
      op: () => o.client.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 0, count: 8 }),
      target: { text: "p50 <= 8x nats-raw", met: (r) => r.ratio_p50 <= 8 },
      trail: true,
    },
    {
      path: "ata-read-4k-direct",
      op: () => o.client.sendrec(ata, Bdev.BDEV_READ, { minor: 0, lba: 0, count: 8 }),
      trail: true,
    },
    {
      path: "ata-read-4k-channel",
      op: () => chan().sendrec(ata, Bdev.BDEV_READ, { minor: 0, lba: 0, count: 8 }),
      target: { text: "p50 <= 3x nats-raw", met: (r) => r.ratio_p50 <= 3 },
      trail: true,
    },
  ];
  return {
    paths,
    close: async () => {
      rawMux.close(new Error("done"));
      await raw.close();
    },
  };
}

export async function measure(o: MeasureOptions): Promise<Row[]> {
  const prepared = await preparePaths(o);
  let paths = prepared.paths;
  if (paths.map((p) => p.path).join() !== PATHS.join()) throw new Error("bench/measure.ts: PATHS and the measured paths differ");
  if (o.only) paths = paths.filter((p) => p.path === "nats-raw" || o.only!.includes(p.path));
  const samples = new Map<string, number[]>(paths.map((p) => [p.path, []]));
  const segments = new Map<string, Map<string, number[]>>(paths.map((p) => [p.path, new Map()]));
  const empty = new Uint8Array(0);
  for (const p of paths) for (let i = 0; i < 100; i++) await p.op(empty); // warm-up
  for (let r = 0; r < o.rounds; r++) {
    for (const p of paths) {
      const out = samples.get(p.path)!;
      const segs = segments.get(p.path)!;
      const batch = async () => {
        for (let i = 0; i < o.batch; i++) {
          const t0 = process.hrtime.bigint();
          const r = await p.op(empty);
          out.push(Number(process.hrtime.bigint() - t0) / 1000);
          if (p.trail) addSegments(segs, (r as RawReply).hops, systemClock.nowUs());
        }
      };
      if (o.cpu) await o.cpu.measure(p.path, o.batch, batch);
      else await batch();
    }
  }
  await prepared.close();
  const rows = paths.map((p) => {
    const s = samples.get(p.path)!.sort((a, b) => a - b);
    return { path: p.path, n: s.length, p50_us: +quantile(s, 0.5).toFixed(2), p99_us: +quantile(s, 0.99).toFixed(2), target: p.target };
  });
  const base = rows.find((r) => r.path === "nats-raw")!.p50_us;
  return rows.map((r) => ({
    path: r.path,
    p50_us: r.p50_us,
    p99_us: r.p99_us,
    ratio_p50: +(r.p50_us / base).toFixed(3),
    n: r.n,
    target: r.target?.text,
    ...(r.target?.met ? { target_met: r.target.met({ p50_us: r.p50_us, ratio_p50: r.p50_us / base }) } : {}),
    ...(o.cpu ? { cpu_us: o.cpu.perRequest(r.path) } : {}),
    ...(segments.get(r.path)!.size > 0 ? { hops_p50_us: segmentMedians(segments.get(r.path)!) } : {}),
  }));
}

/**
 * One request's hop trail as segments: from each stamp to the next, then from the last to
 * the client. A segment is transit plus the next party's work up to its stamp (the kernel
 * stamps on arrival and when it replies; a server when it replies). Stamps are each
 * process's wall clock in µs: on one host (or containers sharing its kernel) they agree.
 */
function addSegments(into: Map<string, number[]>, trail: string | undefined, endUs: number): void {
  const hops = parseHops(trail);
  if (hops.length === 0) return;
  const add = (name: string, us: number) => {
    let list = into.get(name);
    if (!list) into.set(name, (list = []));
    list.push(us);
  };
  for (let i = 1; i < hops.length; i++) add(`${i}: ${hops[i - 1].who} > ${hops[i].who}`, hops[i].us - hops[i - 1].us);
  add(`${hops.length}: ${hops[hops.length - 1].who} > client`, endUs - hops[hops.length - 1].us);
}

function segmentMedians(segs: Map<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, list] of segs)
    out[name] = Math.round(
      quantile(
        list.sort((a, b) => a - b),
        0.5,
      ),
    );
  return out;
}

/** The relay is its own process, started with the benchmark: wait until it answers. */
async function waitForRelay(op: () => Promise<unknown>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await op();
      return;
    } catch (e) {
      if (!isLocalError(e, "MK_ERR_NO_RESPONDERS") || Date.now() > deadline)
        throw new Error(`the relay (bench/relay-server.ts) is not answering on ${RELAY_SUBJECT}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The target and whether this run met it. */
function targetCell(r: Row): string {
  if (!r.target) return "";
  return r.target_met === undefined ? r.target : `${r.target}: ${r.target_met ? "met" : "NOT met"} in this run`;
}

export function table(title: string, rows: Row[]): string {
  const head = ["path", "p50 us", "p99 us", "p50 / nats-raw", "samples", "target"];
  const body = rows.map((r) => [
    r.path,
    r.p50_us.toFixed(1),
    r.p99_us.toFixed(1),
    `${r.ratio_p50.toFixed(2)}x`,
    String(r.n),
    targetCell(r),
  ]);
  const out = [title, ...columns(head, body)];
  // CPU per request by process: parties that spent at least 1 µs on some path.
  const parties = [...new Set(rows.flatMap((r) => Object.keys(r.cpu_us ?? {})))].filter((p) => rows.some((r) => (r.cpu_us?.[p] ?? 0) >= 1));
  if (parties.length > 0) {
    const cpuBody = rows.map((r) => [
      r.path,
      ...parties.map((p) => String(r.cpu_us?.[p] ?? "")),
      String(Object.values(r.cpu_us ?? {}).reduce((a, b) => a + b, 0)),
    ]);
    out.push(
      "",
      "CPU per request, us, by process: user + system time over all of a path's requests, to one clock tick (10 ms / samples); background work such as PIT ticks included",
      ...columns(["path", ...parties, "total"], cpuBody),
    );
  }
  const traced = rows.filter((r) => r.hops_p50_us);
  if (traced.length > 0) {
    out.push("", "Hop by hop, p50 us, from the reply's Mk-Hops stamps (each segment: transit plus the next party's work up to its stamp)");
    for (const r of traced)
      out.push(
        `${r.path.padEnd(15)} ${Object.entries(r.hops_p50_us!)
          .map(([k, v]) => `${k.replace(/^\d+: /, "")} ${v}`)
          .join(" | ")}`,
      );
  }
  return out.join("\n");
}

export function columns(head: string[], body: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(w[i]))
      .join("  ")
      .trimEnd();
  return [line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)];
}

/**
 * The shipped privilege table with the benchmark's parties added. Process mode and
 * bench:js run on this host (any free HTTP port, a small disk); compose keeps the
 * table's own ports and disk.
 */
export function benchSystemYaml(onHost: boolean, more: DeriveOptions = {}): string {
  const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
  return deriveSystemYaml(shipped, { services: BENCH_SERVICES, ...(onHost ? { httpPort: 0, sectors: 16384 } : {}), ...more });
}

/** The two benchmark parties, added to the shipped privilege table. */
const BENCH_SERVICES = `
  bench-echo:
    command: [node, bench/echo-server.ts]
    ipc: []
  bench-client:
    ipc: [bench-echo, ata]
    paths: { bench-echo: reply-direct, ata: reply-direct }   # only when it names an incarnation (bench-echo#1): the bare label takes the trap
    calls: [getinfo]
    block: { ata: { raw: rw } }
  bench-chan:
    ipc: [bench-echo, ata]
    paths: { bench-echo: channel, ata: channel }
    calls: [getinfo]
    block: { ata: { raw: r } }
`;
