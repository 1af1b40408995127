// The dashboard's model with an injected clock: rates and last-minute latency from two
// statistics samples, kernel-core seen down when samples stop, stale generations ignored
// (and forgotten at a new kernel boot), clients' comings and goings kept off the timeline,
// the timeline bounded.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS_S, type KernelEvent, type KernelStat } from "#abi";
import { ManualClock } from "#base/clock.ts";
import { parseSystemTable } from "#base/system-table.ts";
import { CAUSE_WAIT_MS, edgeRates, Model, quantileUs, TIMELINE_MAX } from "../../services/dashboard/src/index.ts";

const ROOT = join(import.meta.dirname, "../..");
const table = parseSystemTable(readFileSync(join(ROOT, "etc/system.yaml"), "utf8"), "etc/system.yaml");

const stat = (at: number, boot: string, edges: [string, string, number][], latency: KernelStat["latency"] = []): KernelStat => ({
  boot,
  pid: 10,
  at,
  uptime_ms: at,
  edges,
  latency,
});

let seq = 0;
function ev(kind: KernelEvent["kind"], label: string, generation: number, o: Partial<KernelEvent> = {}): KernelEvent {
  return {
    kind,
    boot: "b1",
    seq: ++seq,
    ts: 0,
    at: new Date(1_000_000 + seq).toISOString(),
    endpoint: `${label}#${generation}`,
    label,
    generation,
    placement: "user",
    host: "h",
    pid: 100 + generation,
    ...o,
  };
}

describe("dashboard model", () => {
  it("dashboard model - edge rates are message differences over the time between two samples of one boot", () => {
    const a = stat(1000, "b1", [
      ["workload", "vfs", 10],
      ["kernel", "hardware", 100],
    ]);
    const b = stat(3000, "b1", [
      ["workload", "vfs", 30],
      ["kernel", "hardware", 100],
      ["vfs", "mfs", 8],
    ]);
    expect(edgeRates(a, b)).toEqual([
      { from: "workload", to: "vfs", msgs_per_s: 10 },
      { from: "vfs", to: "mfs", msgs_per_s: 4 },
    ]);
  });

  it("dashboard model - a quantile lies inside its bucket, interpolated", () => {
    const counts = new Array(LATENCY_BUCKETS_S.length + 1).fill(0);
    counts[4] = 100; // (100 µs, 200 µs]
    expect(quantileUs(counts, 100, 0.5)).toBe(150);
    expect(quantileUs(counts, 100, 0.99)).toBe(199);
    expect(quantileUs(counts, 0, 0.5)).toBeNull();
  });

  it("dashboard model - latency covers the last minute only, and kernel-core is down three seconds after the last sample", () => {
    const clock = new ManualClock(0);
    const m = new Model(table, clock);
    const bucket = (n: number) => LATENCY_BUCKETS_S.map((_, i) => (i === 2 ? n : 0)).concat([0]);
    m.onStat(stat(0, "b1", [], [{ type: "BDEV_READ", count: 1000, buckets: bucket(1000) }]));
    // A console read waits for a typed line: its time is waiting, flagged apart from serving.
    const withRead = new Model(table, new ManualClock(0));
    withRead.onStat(stat(0, "b1", [], []));
    withRead.onStat(stat(1000, "b1", [], [{ type: "CDEV_READ", count: 2, buckets: bucket(2) }]));
    expect(withRead.state().latency).toEqual([expect.objectContaining({ path: "CDEV_READ", waiting: true })]);
    for (let t = 1; t <= 61; t++) {
      clock.advance(1000);
      m.onStat(stat(t * 1000, "b1", [], [{ type: "BDEV_READ", count: 1000 + t, buckets: bucket(1000 + t) }]));
    }
    expect(m.state().latency).toEqual([
      { path: "BDEV_READ", p50_us: expect.any(Number), p99_us: expect.any(Number), count: 60, waiting: false },
    ]);
    expect(m.state().kernel.up).toBe(true);
    clock.advance(3000);
    expect(m.state().kernel.up).toBe(false);
    expect(m.state().nodes.find((n) => n.id === "kernel-core")?.state).toBe("down");
  });

  it("dashboard model - while kernel-core is silent, no service is shown as it was last seen: each is unknown until the kernel is back", () => {
    const clock = new ManualClock(0);
    const m = new Model(table, clock);
    m.onStat(stat(0, "b1", []));
    m.onKernelEvent(ev("ready", "ata", 1));
    expect(m.state().nodes.find((n) => n.id === "ata")?.state).toBe("ready");
    clock.advance(3000);
    const down = m.state();
    expect(down.kernel.up).toBe(false);
    expect(down.nodes.find((n) => n.id === "kernel-core")?.state).toBe("down");
    expect(down.nodes.find((n) => n.id === "ata")?.state).toBe("unknown");
    expect(down.nodes.find((n) => n.id === "hardware")?.state).toBe("unknown");
    expect(down.nodes.filter((n) => n.state === "ready").map((n) => n.id)).toEqual([]);
    // The kernel's next sample: what the model knows is shown again.
    m.onStat(stat(3000, "b1", []));
    expect(m.state().nodes.find((n) => n.id === "ata")?.state).toBe("ready");
  });

  it("dashboard model - an older generation's event changes nothing, until a new kernel boot numbers afresh", () => {
    const m = new Model(table, new ManualClock(0));
    m.onKernelEvent(ev("ready", "ata", 3));
    m.onKernelEvent(ev("dead", "ata", 2, { cause: "exit" }));
    expect(m.state().nodes.find((n) => n.id === "ata")).toMatchObject({ generation: 3, state: "ready" });
    m.onKernelEvent(ev("ready", "ata", 1, { boot: "b2" }));
    expect(m.state().nodes.find((n) => n.id === "ata")).toMatchObject({ generation: 1, state: "ready" });
  });

  it("dashboard model - one death, one cause: rs's (exit code, signal, heartbeat) on the timeline and in the table, whichever arrives first; the kernel's only when rs says nothing in time", () => {
    const clock = new ManualClock(0);
    const m = new Model(table, clock);
    const rs = (label: string, state: "backoff" | "running", cause: string) =>
      m.onRsEvent({
        state,
        label,
        rs: "rs#1",
        seq: ++seq,
        at: new Date(clock.now()).toISOString(),
        why: state,
        restarts: 1,
        generation: 1,
        last_cause: cause,
      });
    const deaths = () =>
      m
        .history()
        .filter((e) => e.kind === "dead")
        .map((e) => [e.label, e.cause]);
    // The kernel's event first, rs's cause 200 ms later.
    m.onKernelEvent(ev("dead", "ata", 1, { cause: "disconnect", detail: "Client Closed" }));
    expect(deaths()).toEqual([]); // held for rs's word
    clock.advance(200);
    rs("ata", "backoff", "signal SIGKILL");
    // rs's first, the kernel's event after it.
    rs("tty", "backoff", "exit 70 (crash: an error no handler caught)");
    clock.advance(50);
    m.onKernelEvent(ev("dead", "tty", 1, { cause: "disconnect", detail: "Client Closed" }));
    // No word from rs (a service it does not supervise now, or rs away): the kernel's cause, in time.
    m.onKernelEvent(ev("dead", "mfs", 1, { cause: "disconnect", detail: "Client Closed" }));
    expect(deaths()).toEqual([
      ["ata", "signal SIGKILL"],
      ["tty", "exit 70 (crash: an error no handler caught)"],
    ]);
    clock.advance(CAUSE_WAIT_MS);
    expect(deaths().at(-1)).toEqual(["mfs", "disconnect"]);
    // A cause is used once, for its own incarnation: ata#2 dying soon after does not inherit ata#1's.
    clock.advance(100);
    m.onKernelEvent(ev("dead", "ata", 2, { cause: "disconnect", detail: "Client Closed" }));
    m.onRsEvent({
      state: "backoff",
      label: "ata",
      rs: "rs#1",
      seq: ++seq,
      at: new Date(clock.now()).toISOString(),
      why: "backoff",
      restarts: 2,
      generation: 2,
      last_cause: "exit 70 (crash: an error no handler caught)",
    });
    expect(deaths().at(-1)).toEqual(["ata", "exit 70 (crash: an error no handler caught)"]);
    expect(m.state().nodes.find((n) => n.id === "ata")?.last_cause).toBe("exit 70 (crash: an error no handler caught)"); // the table: rs's latest
  });

  it("dashboard model - a client's start and exit stay off the timeline, a service's death and its recovery are on it, and the timeline is bounded", () => {
    const m = new Model(table, new ManualClock(0));
    m.onKernelEvent(ev("started", "mkctl", 1));
    m.onKernelEvent(ev("dead", "mkctl", 1, { cause: "exit" }));
    m.onKernelEvent(ev("dead", "ata", 1, { cause: "disconnect" }));
    m.onRsEvent({
      state: "running",
      label: "ata",
      rs: "rs#1",
      seq: 1,
      at: new Date(2_000_000).toISOString(),
      why: "serving",
      restarts: 1,
      generation: 2,
      detect_ms: 1,
      recover_ms: 400,
      last_cause: "signal SIGKILL",
    });
    expect(m.history().map((e) => [e.kind, e.label, e.mttr_ms, e.cause])).toEqual([
      ["dead", "ata", null, "signal SIGKILL"], // rs's cause, not the kernel's "disconnect"
      ["recovered", "ata", 401, "signal SIGKILL"],
    ]);
    for (let i = 0; i < TIMELINE_MAX + 50; i++) m.onKernelEvent(ev("dead", "workload", 1, { cause: "disconnect" }));
    expect(m.history().length).toBe(TIMELINE_MAX);
  });
});
