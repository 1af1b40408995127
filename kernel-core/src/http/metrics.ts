// Kernel metrics for /metrics (prom-client): messages, kernel calls, denials, IRQs and
// trap-to-reply latency per message type. Label children are cached: the in-kernel
// path is measured in microseconds.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { typeName } from "../../abi/index.ts";

export class KernelMetrics {
  readonly registry = new Registry();
  readonly messages = new Counter({ name: "mk_messages_total", help: "Messages through the trap path, by type and result", labelNames: ["type", "result"], registers: [this.registry] });
  readonly calls = new Counter({ name: "mk_kernel_calls_total", help: "Kernel calls by call and result", labelNames: ["call", "result"], registers: [this.registry] });
  readonly denials = new Counter({ name: "mk_denials_total", help: "Refused calls and messages, by call and reason", labelNames: ["call", "reason"], registers: [this.registry] });
  readonly irqs = new Counter({ name: "mk_irqs_total", help: "Interrupts received from the hardware bus, by line", labelNames: ["line"], registers: [this.registry] });
  readonly deaths = new Counter({ name: "mk_endpoint_deaths_total", help: "Incarnations that died, by label", labelNames: ["label"], registers: [this.registry] });
  readonly latency = new Histogram({
    name: "mk_ipc_latency_seconds",
    help: "Kernel time from trap to reply, by message type",
    labelNames: ["type"],
    buckets: [5e-6, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  /** Set by the kernel: the state of every endpoint, read at scrape time. */
  endpointStates: () => string[] = () => [];
  readonly endpoints: Gauge<"state">;
  private readonly msgChildren = new Map<string, { inc(): void }>();
  private readonly latChildren = new Map<number, { observe(v: number): void }>();

  constructor(defaults = true) {
    const states = () => this.endpointStates();
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
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "mk_kernel_" });
  }

  message(type: number, status: number): void {
    const key = `${type}:${status}`;
    let c = this.msgChildren.get(key);
    if (!c) this.msgChildren.set(key, (c = this.messages.labels(typeName(type), status === 0 ? "ok" : String(status))));
    c.inc();
  }

  observe(type: number, seconds: number): void {
    let h = this.latChildren.get(type);
    if (!h) this.latChildren.set(type, (h = this.latency.labels(typeName(type))));
    h.observe(seconds);
  }
}
