// npm run lab:ipc: every IPC path at each message size (0 B, 64 B, 4 KiB, 64 KiB), measured
// interleaved in one run, in the shape of sel4bench's table (min, p50, mean, stddev, p99,
// max, samples), with ratios to raw NATS and to the trap path of the same size; what one
// round trip does on each path (hops, process turns, socket writes, bytes copied, envelope
// parses); what those counts would cost at other systems' per-operation prices; and,
// beside them, the host's own IPC between two processes (bench/host-ipc.ts).
import { systemClock } from "#libsys";
import { hostIpc, type HostRow } from "./host-ipc.ts";
import { columns, type MeasureOptions, preparePaths, quantile } from "./measure.ts";

export const LAB_SIZES = [0, 64, 4096, 65536];

/**
 * seL4's call + reply round trip: about 770 cycles on Skylake (the seL4 project's published
 * IPC figures, sel4.systems "Performance"; the figure issue 22 quotes), priced here at a
 * stated 3.0 GHz. One mkos hop (a process boundary crossed) is taken as half of it.
 */
const SEL4_CALL_REPLY_CYCLES = 770;
const SEL4_CLOCK_GHZ = 3.0;

/** NATS deliveries per round trip, and how many of them carry the request's body. */
const SHAPE: Record<string, { hops: number; bodyHops: number; envelope: boolean }> = {
  "in-process": { hops: 0, bodyHops: 0, envelope: false },
  "in-kernel": { hops: 0, bodyHops: 0, envelope: false },
  "nats-raw": { hops: 2, bodyHops: 1, envelope: false },
  channel: { hops: 2, bodyHops: 1, envelope: true },
  "nats-relay-3": { hops: 3, bodyHops: 2, envelope: true },
  "reply-direct": { hops: 3, bodyHops: 2, envelope: true },
  "nats-relay": { hops: 4, bodyHops: 2, envelope: true },
  "kernel-sendrec": { hops: 4, bodyHops: 2, envelope: true },
};

export interface LabRow {
  path: string;
  size: number;
  min_us: number;
  p50_us: number;
  mean_us: number;
  stddev_us: number;
  p99_us: number;
  max_us: number;
  samples: number;
  ratio_raw: number;
  ratio_trap: number;
  /** What one round trip does: NATS deliveries, process turns (nats-server and the receiver each wake per delivery), socket writes, bytes copied between user and kernel space, envelope parses. */
  counts: { hops: number; turns: number; writes: number; bytes: number; parses: number } | null;
  /** The same round trip priced at other systems' figures (µs): each hop as half a seL4 call+reply, as half a C pipe round trip measured here, and the copies at memcpy's speed here. */
  calibrated: { sel4_us: number; linux_pipe_us?: number; copy_us?: number } | null;
}

function describe(samples: number[]): Omit<LabRow, "path" | "size" | "ratio_raw" | "ratio_trap" | "counts" | "calibrated"> {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, s.length - 1));
  const r = (x: number) => +x.toFixed(2);
  return {
    min_us: r(s[0]),
    p50_us: r(quantile(s, 0.5)),
    mean_us: r(mean),
    stddev_us: r(sd),
    p99_us: r(quantile(s, 0.99)),
    max_us: r(s[s.length - 1]),
    samples: s.length,
  };
}

export async function measureLab(o: MeasureOptions & { sizes: number[] }): Promise<{ rows: LabRow[]; host: HostRow[] }> {
  const { paths, close } = await preparePaths(o);
  const sized = paths.filter((p) => p.sized);
  // The driver's reads carry no request body: measured once a round, named by their 4 KiB reply.
  const reads = paths.filter((p) => p.path.startsWith("ata-read-4k"));
  const key = (path: string, size: number) => `${path}@${size}`;
  const samples = new Map<string, number[]>();
  const bodies = new Map(o.sizes.map((n) => [n, new Uint8Array(n).fill(0x5a)]));
  const time = async (k: string, op: () => Promise<unknown>) => {
    let list = samples.get(k);
    if (!list) samples.set(k, (list = []));
    for (let i = 0; i < o.batch; i++) {
      const t0 = process.hrtime.bigint();
      await op();
      list.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  };
  for (const p of [...sized, ...reads]) for (let i = 0; i < 50; i++) await p.op(bodies.get(o.sizes[0])!); // warm-up
  for (let r = 0; r < o.rounds; r++) {
    for (const size of o.sizes) for (const p of sized) await time(key(p.path, size), () => p.op(bodies.get(size)!));
    for (const p of reads) await time(key(p.path, 4096), () => p.op(new Uint8Array(0)));
  }
  await close();
  const host = await hostIpc(o.sizes, Math.max(200, o.rounds * o.batch));
  const pipe = (size: number) => host.rows.find((h) => h.lang === "c" && h.mechanism === "pipe" && h.size === size)?.p50_us;

  const rows: LabRow[] = [];
  for (const [k, list] of samples) {
    const [path, sizeText] = k.split("@");
    const size = Number(sizeText);
    const d = describe(list);
    const raw = samples.get(key("nats-raw", size));
    const trap = samples.get(key("kernel-sendrec", size));
    const shape = SHAPE[path];
    const counts = shape
      ? {
          hops: shape.hops,
          turns: 2 * shape.hops,
          writes: 2 * shape.hops,
          bytes: 4 * shape.bodyHops * size,
          parses: shape.envelope ? shape.hops : 0,
        }
      : null;
    const pipeUs = pipe(size);
    rows.push({
      path,
      size,
      ...d,
      ratio_raw: raw ? +(d.p50_us / describe(raw).p50_us).toFixed(3) : 0,
      ratio_trap: trap ? +(d.p50_us / describe(trap).p50_us).toFixed(3) : 0,
      counts,
      calibrated: counts
        ? {
            sel4_us: +(((counts.hops / 2) * SEL4_CALL_REPLY_CYCLES) / (SEL4_CLOCK_GHZ * 1000)).toFixed(3),
            ...(pipeUs !== undefined ? { linux_pipe_us: +((counts.hops / 2) * pipeUs).toFixed(2) } : {}),
            ...(host.copyBytesPerUs ? { copy_us: +(counts.bytes / host.copyBytesPerUs).toFixed(2) } : {}),
          }
        : null,
    });
  }
  return { rows, host: host.rows };
}

export function labTable(title: string, r: { rows: LabRow[]; host: HostRow[] }): string {
  const out = [title, ""];
  const sizes = [...new Set(r.rows.map((x) => x.size))].sort((a, b) => a - b);
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  for (const size of sizes) {
    out.push(`message of ${size} bytes (request body; the answer is empty, the ATA reads' is the 4 KiB read)`);
    const body = r.rows
      .filter((x) => x.size === size)
      .map((x) => [
        x.path,
        f(x.min_us),
        f(x.p50_us),
        f(x.mean_us),
        f(x.stddev_us),
        f(x.p99_us),
        f(x.max_us),
        String(x.samples),
        `${x.ratio_raw.toFixed(2)}x`,
        x.ratio_trap ? `${x.ratio_trap.toFixed(2)}x` : "",
        x.counts ? `${x.counts.hops}/${x.counts.turns}/${x.counts.writes}/${x.counts.bytes}/${x.counts.parses}` : "",
        x.calibrated ? x.calibrated.sel4_us.toFixed(2) : "",
        x.calibrated?.linux_pipe_us !== undefined ? x.calibrated.linux_pipe_us.toFixed(1) : "",
        x.calibrated?.copy_us !== undefined ? x.calibrated.copy_us.toFixed(2) : "",
      ]);
    out.push(
      ...columns(
        [
          "path",
          "min",
          "p50",
          "mean",
          "stddev",
          "p99",
          "max",
          "n",
          "/raw",
          "/trap",
          "hops/turns/writes/bytes/parses",
          "as seL4",
          "as pipe",
          "copies",
        ],
        body,
      ),
      "",
    );
  }
  out.push(
    "µs. hops: NATS deliveries per round trip; turns: processes woken (nats-server and the receiver, each delivery);",
    "writes: socket writes; bytes: copied between user and kernel space; parses: envelopes decoded.",
    `as seL4: each hop priced as half a seL4 call+reply (${SEL4_CALL_REPLY_CYCLES} cycles, Skylake, sel4.systems; at a stated ${SEL4_CLOCK_GHZ} GHz).`,
    "as pipe: each hop as half a C pipe round trip measured below; copies: the bytes at this machine's memcpy speed.",
    "",
    "the host's own IPC between two processes (a request of the size, a 1-byte answer)",
    ...columns(
      ["mechanism", "lang", "size", "p50 us", "p99 us"],
      r.host.map((h) => [h.mechanism, h.lang, String(h.size), f(h.p50_us), f(h.p99_us)]),
    ),
    `measured ${new Date(systemClock.now()).toISOString()}`,
  );
  return out.join("\n");
}
