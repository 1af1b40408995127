// Kernel metrics for /metrics (prom-client): messages, kernel calls, denials, IRQs,
// trap-to-reply latency per message type, and round trips by IPC path as callers report
// them. The per-message counters and the histograms are plain arrays updated on the hot
// path (the in-kernel path is measured in microseconds) and handed to prom-client only
// when /metrics is scraped.
import {
  Counter,
  Gauge,
  Registry,
  collectDefaultMetrics,
  type Metric,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from "prom-client";
import { LATENCY_BUCKETS_S, latencyBucket, typeName, type IpcPath } from "#abi";

const BUCKETS = LATENCY_BUCKETS_S;

interface Series {
  counts: Float64Array; // per bucket, not cumulative
  sum: number;
  count: number;
}

/**
 * A histogram by one label (a message type, an IPC path) whose observe() is a loop over 15
 * numbers, and which also takes whole bucket counts measured elsewhere (SYS_IPCSTAT).
 */
class BucketHistogram<K> {
  readonly type = "histogram";
  readonly aggregator = "sum" as const;
  private readonly series = new Map<K, Series>();
  readonly name: string;
  readonly help: string;
  private readonly labelName: string;
  private readonly show: (key: K) => string;

  constructor(name: string, help: string, labelName: string, show: (key: K) => string) {
    this.name = name;
    this.help = help;
    this.labelName = labelName;
    this.show = show;
  }

  private of(key: K): Series {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { counts: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 }));
    return s;
  }

  observe(key: K, seconds: number): void {
    const s = this.of(key);
    s.counts[latencyBucket(seconds)]++;
    s.sum += seconds;
    s.count++;
  }

  /** Counts per bucket (BUCKETS, then above) and their sum, measured by someone else. */
  add(key: K, buckets: readonly number[], sumSeconds: number): void {
    const s = this.of(key);
    for (let i = 0; i < s.counts.length && i < buckets.length; i++) {
      s.counts[i] += buckets[i];
      s.count += buckets[i];
    }
    s.sum += sumSeconds;
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    // The shape prom-client's own Histogram.get() returns, so the registry renders it alike.
    const values: MetricValueWithName<string>[] = [];
    for (const [key, s] of this.series) {
      const labels = { [this.labelName]: this.show(key) };
      let acc = 0;
      BUCKETS.forEach((le, i) => {
        acc += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator } as unknown as MetricObjectWithValues<
      MetricValueWithName<string>
    >;
  }

  reset(): void {
    this.series.clear();
  }

  /** Every key's counts per bucket (not cumulative), for the statistics stream. */
  rows(): { key: string; count: number; buckets: number[] }[] {
    return [...this.series].map(([key, s]) => ({ key: this.show(key), count: s.count, buckets: Array.from(s.counts) }));
  }
}

export class KernelMetrics {
  readonly registry = new Registry();
  readonly calls = new Counter({
    name: "mk_kernel_calls_total",
    help: "Kernel calls by call and result",
    labelNames: ["call", "result"],
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: "mk_denials_total",
    help: "Refused calls and messages, by call and reason",
    labelNames: ["call", "reason"],
    registers: [this.registry],
  });
  readonly trapsDropped = new Counter({
    name: "mk_traps_dropped_total",
    help: "Traps dropped before any work: their caller had too many waiting (a flood), by caller",
    labelNames: ["label"],
    registers: [this.registry],
  });
  readonly irqs = new Counter({
    name: "mk_irqs_total",
    help: "Interrupts received from the hardware bus, by line",
    labelNames: ["line"],
    registers: [this.registry],
  });
  readonly deaths = new Counter({
    name: "mk_endpoint_deaths_total",
    help: "Incarnations that ended, by label and cause (exit: closed its own connection; superseded; disconnect; no-subscriber)",
    labelNames: ["label", "cause"],
    registers: [this.registry],
  });
  readonly latency = new BucketHistogram<number>(
    "mk_ipc_latency_seconds",
    "Kernel time from trap to reply, by message type",
    "type",
    typeName,
  );
  /** Round trips as callers measured them (SYS_IPCSTAT), by the path they took: the kernel sees no reply of reply-direct, nor any of a channel. */
  readonly paths = new BucketHistogram<IpcPath>(
    "mk_ipc_roundtrip_seconds",
    "Round trips of sendrecs as their callers measured them (SYS_IPCSTAT), by IPC path",
    "path",
    (p) => p,
  );
  /** Set by the kernel: the state of every endpoint, read at scrape time. */
  endpointStates: () => string[] = () => [];
  /** Set by the kernel: requests parked waiting for a generation (getinfo waits, starting endpoints). */
  waiters: () => number = () => 0;
  /** Set by the kernel: traps admitted and not yet answered. */
  inFlight: () => number = () => 0;
  readonly endpoints: Gauge<"state">;
  readonly messages: Counter<"type" | "result">;
  private readonly messageCounts = new Map<number, Map<number, number>>();

  constructor(defaults = true) {
    const states = () => this.endpointStates();
    const counts = this.messageCounts;
    this.endpoints = new Gauge({
      name: "mk_endpoints",
      help: "Endpoints by state",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of states()) this.labels(s).inc();
      },
    });
    this.messages = new Counter({
      name: "mk_messages_total",
      help: "Messages through the trap path, by type and result",
      labelNames: ["type", "result"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [type, byStatus] of counts) {
          for (const [status, n] of byStatus) this.labels(typeName(type), status === 0 ? "ok" : String(status)).inc(n);
        }
      },
    });
    this.readAtScrape("mk_waiters", "Requests parked in the kernel waiting for an endpoint's next generation", () => this.waiters());
    this.readAtScrape("mk_traps_in_flight", "Traps admitted by the kernel and not yet answered (bounded per caller)", () =>
      this.inFlight(),
    );
    this.registry.registerMetric(this.latency as unknown as Metric);
    this.registry.registerMetric(this.paths as unknown as Metric);
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "mk_kernel_" });
  }

  /** A gauge whose value is read from the kernel when /metrics is scraped. */
  private readAtScrape(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  message(type: number, status: number): void {
    let byStatus = this.messageCounts.get(type);
    if (!byStatus) this.messageCounts.set(type, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  observe(type: number, seconds: number): void {
    this.latency.observe(type, seconds);
  }

  /** Who sent to whom: labels from the privilege table, the kernel and the hardware, so the map is bounded. */
  private readonly edgeCounts = new Map<string, Map<string, number>>();

  edge(from: string, to: string, n = 1): void {
    let row = this.edgeCounts.get(from);
    if (!row) this.edgeCounts.set(from, (row = new Map()));
    row.set(to, (row.get(to) ?? 0) + n);
  }

  edges(): [string, string, number][] {
    const out: [string, string, number][] = [];
    for (const [from, row] of this.edgeCounts) for (const [to, n] of row) out.push([from, to, n]);
    return out;
  }
}
