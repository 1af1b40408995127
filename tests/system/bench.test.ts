// The benchmarks run end to end and report every path, with the same-run baseline and,
// in process mode, CPU per process. No speed is asserted here: speed lives in the
// benchmark's own output (README, "What one crossing costs").
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import type { LabRow } from "../../bench/lab.ts";
import { PATHS, type Row } from "../../bench/measure.ts";
import { ROOT } from "../helpers/system.ts";

const run = promisify(execFile);
const node = (args: string[]) =>
  run(process.execPath, args, { cwd: ROOT, env: { ...process.env, MK_LOG_LEVEL: "warn" }, timeout: 120_000 });

// Concurrent: only the output's shape is asserted, so the runs may share the machine.
describe.concurrent("bench", () => {
  it("bench - bench:ipc --json measures every path against nats-raw of the same run, with CPU per process", async () => {
    const { stdout } = await node(["bench/ipc.ts", "--json", "--rounds", "2", "--batch", "20"]);
    const rows = (JSON.parse(stdout.trim().split("\n").pop()!) as { rows: Row[] }).rows;
    expect(rows.map((r) => r.path)).toEqual(PATHS);
    const by = Object.fromEntries(rows.map((r) => [r.path, r]));
    for (const r of rows) {
      expect(r.n).toBe(40);
      expect(r.p50_us).toBeGreaterThan(0);
      expect(r.p99_us).toBeGreaterThanOrEqual(r.p50_us);
      expect(r.ratio_p50).toBeCloseTo(r.p50_us / by["nats-raw"].p50_us, 2);
    }
    expect(by["nats-raw"].ratio_p50).toBe(1);
    // Each target says whether this run met it, from the run's own numbers.
    expect(by["kernel-sendrec"].target_met).toBe(by["kernel-sendrec"].ratio_p50 <= 2.5);
    expect(by["ata-read-4k"].target_met).toBe(by["ata-read-4k"].ratio_p50 <= 8);
    expect(by["in-kernel"].target_met).toBe(by["in-kernel"].p50_us < 5);
    expect(by["nats-relay"].target_met).toBeUndefined();
    // The trap path's reply carries its hop trail: caller, kernel, server, kernel, in order.
    expect(Object.keys(by["kernel-sendrec"].hops_p50_us!)).toEqual([
      "1: bench-client > kernel",
      "2: kernel > bench-echo",
      "3: bench-echo > kernel",
      "4: kernel > client",
    ]);
    expect(Object.keys(by["ata-read-4k"].hops_p50_us!)).toEqual([
      "1: bench-client > kernel",
      "2: kernel > ata",
      "3: ata > kernel",
      "4: kernel > client",
    ]);
    // The reply-direct path: the server's answer comes straight back, no kernel stamp after it.
    expect(by["reply-direct"].target_met).toBe(by["reply-direct"].ratio_p50 <= 2.0);
    expect(Object.keys(by["reply-direct"].hops_p50_us!)).toEqual([
      "1: bench-client > kernel",
      "2: kernel > bench-echo",
      "3: bench-echo > client",
    ]);
    expect(Object.keys(by["ata-read-4k-direct"].hops_p50_us!)).toEqual(["1: bench-client > kernel", "2: kernel > ata", "3: ata > client"]);
    // The channel path: two hops, no kernel between.
    expect(by.channel.target_met).toBe(by.channel.ratio_p50 <= 1.1);
    expect(Object.keys(by.channel.hops_p50_us!)).toEqual(["1: bench-chan > bench-echo", "2: bench-echo > client"]);
    expect(Object.keys(by["ata-read-4k-channel"].hops_p50_us!)).toEqual(["1: bench-chan > ata", "2: ata > client"]);
    // Each hop is stamped by a different process's clock, which usually agree to tens of µs
    // but not always (a CI run here saw one process 33 ms off): a hop may read negative; the
    // round trip, whose skews cancel, may not.
    for (const us of Object.values(by["kernel-sendrec"].hops_p50_us!)) expect(Number.isFinite(us)).toBe(true);
    expect(Object.values(by["kernel-sendrec"].hops_p50_us!).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // CPU per request is accounted for the benchmark itself (to the µs) and every process.
    expect(by["ata-read-4k"].cpu_us!.client).toBeGreaterThan(0);
    expect(Object.keys(by["kernel-sendrec"].cpu_us!)).toEqual(
      expect.arrayContaining(["client", "nats", "kernel", "hardware", "ata", "bench-echo", "bench-relay"]),
    );
  });

  it("bench - bench:ipc refuses an unknown path by name, and --help prints the paths", async () => {
    await expect(node(["bench/ipc.ts", "--paths", "kernel-sendrc"])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown path kernel-sendrc"),
    });
    const { stdout } = await node(["bench/ipc.ts", "--help"]);
    // Each path with what it is, not its name alone.
    for (const p of PATHS) expect(stdout).toMatch(new RegExp(`\\n {2}${p} +\\S.{20,}`));
  });

  it("bench - bench:fs measures the file operations and sequential throughput against nats-raw and the block path of the same run", async () => {
    const { stdout } = await node(["bench/fs.ts", "--json", "--rounds", "1", "--batch", "5"]);
    const r = JSON.parse(stdout.trim().split("\n").pop()!) as {
      rows: { path: string; p50_us: number; ratio: number; n: number; disk_writes?: number; flushes?: number }[];
      throughput: { path: string; mb_s: number; ratio: number }[];
    };
    expect(r.rows[0]).toMatchObject({ ratio: 1 });
    // Why each costs what it does: a create reaches the disk in one request carrying its flush; a cached read asks nothing.
    expect(r.rows.find((x) => x.path.startsWith("vfs-create"))).toMatchObject({ disk_writes: 1, flushes: 1 });
    expect(r.rows.find((x) => x.path.startsWith("vfs-pread-4k"))).toMatchObject({ disk_writes: 0, flushes: 0 });
    expect(r.rows.map((x) => x.path)).toEqual(
      expect.arrayContaining([
        "ata-read-4k (block path)",
        "ata-write-4k + flush (block path: a change's disk request)",
        "vfs-stat /bench/f",
        "vfs-create + close (empty)",
      ]),
    );
    for (const x of r.rows) expect(x.p50_us).toBeGreaterThan(0);
    expect(r.throughput.map((x) => x.path)).toHaveLength(4);
    for (const x of r.throughput) expect(x.mb_s).toBeGreaterThan(0);
  }, 120_000);

  it("bench - bench:sched prints preemption, dispatch and trap-path rows with ratios, the shares of weights 1:2:4 with Jain's index, and isolation with the scheduler on and off", async () => {
    const { stdout } = await node(["bench/sched.ts", "--json", "--seconds", "1", "--reads", "40"]);
    expect(stdout.trim().split("\n")).toHaveLength(1); // one object, nothing else on stdout
    const r = JSON.parse(stdout) as {
      rows: { path: string; p50_us: number; p99_us: number; ratio: number }[];
      shares: { weights: number[]; measured: number[]; jain: number };
      isolation: {
        idle_p99_us: number;
        loaded_p99_us: number;
        loaded_sched_off_p99_us: number;
        floor_p99_us: number;
        idle_sched_off_p99_us: number;
        loaded_stops: number;
      };
    };
    const paths = r.rows.map((x) => x.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "nats-raw (sched on)",
        "kernel-sendrec (sched on)",
        "kernel-sendrec (sched off)",
        "preempt: SIGSTOP until T in /proc",
        "preempt: SIGCONT until running",
        "dispatch: sendrec to a server, a hog on the CPU",
      ]),
    );
    for (const x of r.rows) {
      expect(Object.keys(x).sort()).toEqual(["p50_us", "p99_us", "path", "ratio"]);
      expect(x.p50_us).toBeGreaterThan(0);
      expect(x.p99_us).toBeGreaterThanOrEqual(x.p50_us);
    }
    expect(r.rows.find((x) => x.path === "nats-raw (sched on)")!.ratio).toBe(1);
    expect(r.shares.weights).toEqual([1, 2, 4]);
    expect(r.shares.measured).toHaveLength(3);
    expect(r.shares.measured.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    expect(r.shares.jain).toBeGreaterThan(0);
    expect(r.shares.jain).toBeLessThanOrEqual(1);
    const { loaded_stops: stops, ...p99s } = r.isolation;
    expect(Object.keys(p99s).sort()).toEqual([
      "floor_p99_us",
      "idle_p99_us",
      "idle_sched_off_p99_us",
      "loaded_p99_us",
      "loaded_sched_off_p99_us",
    ]);
    for (const v of Object.values(p99s)) expect(v).toBeGreaterThan(0);
    // The stops made while the reads ran (the hogs' turns): a count, 0 when no quantum ran out in a short run.
    expect(Number.isInteger(stops) && stops >= 0).toBe(true);
  }, 180_000);

  it("bench - bench:js runs every party's real code over the in-memory bus and reports JavaScript per request", async () => {
    const { stdout } = await node(["bench/js-cost.ts", "--json", "--requests", "200"]);
    // The result is the last line: a party's warning (a log line) may come before it.
    const rows = (JSON.parse(stdout.trim().split("\n").pop()!) as { rows: { path: string; js_us: number }[] }).rows;
    expect(rows.map((r) => r.path)).toEqual(["nats-raw", "kernel-sendrec", "ata-read-4k"]);
    for (const r of rows) expect(r.js_us).toBeGreaterThan(0);
  });
});

// Its own system boot and the host's IPC processes: run alone, not beside the other benchmarks' boots.
describe("lab", () => {
  it("bench - lab:ipc --json: every path at each size with sel4bench's statistics, counts and prices, and the host's own IPC beside them", async () => {
    const { stdout } = await node(["bench/ipc.ts", "--lab", "--json", "--rounds", "1", "--batch", "5", "--sizes", "0,64"]);
    const lab = JSON.parse(stdout.trim().split("\n").pop()!) as {
      rows: LabRow[];
      host: { mechanism: string; lang: string; size: number }[];
    };
    const sized = [
      "in-process",
      "nats-raw",
      "nats-request",
      "nats-relay",
      "nats-relay-3",
      "kernel-sendrec",
      "channel",
      "reply-direct",
      "in-kernel",
    ];
    for (const size of [0, 64])
      for (const path of sized.filter((p) => p !== "nats-request"))
        expect(
          lab.rows.some((r) => r.path === path && r.size === size),
          `${path} at ${size}`,
        ).toBe(true);
    for (const path of ["ata-read-4k", "ata-read-4k-direct", "ata-read-4k-channel"])
      expect(lab.rows.filter((r) => r.path === path).map((r) => r.size)).toEqual([4096]);
    for (const r of lab.rows) {
      expect(r.samples).toBe(5);
      expect(r.min_us).toBeLessThanOrEqual(r.p50_us);
      expect(r.p50_us).toBeLessThanOrEqual(r.max_us);
      expect(r.p99_us).toBeLessThanOrEqual(r.max_us);
      expect(r.stddev_us).toBeGreaterThanOrEqual(0);
    }
    const at = (path: string, size: number) => lab.rows.find((r) => r.path === path && r.size === size)!;
    expect(at("nats-raw", 64).ratio_raw).toBe(1);
    expect(at("kernel-sendrec", 64).ratio_trap).toBe(1);
    // What a round trip does on each path, from its shape: the trap's 4 deliveries carry the body twice.
    expect(at("kernel-sendrec", 64).counts).toEqual({ hops: 4, turns: 8, writes: 8, bytes: 512, parses: 4 });
    expect(at("channel", 64).counts).toEqual({ hops: 2, turns: 4, writes: 4, bytes: 256, parses: 2 });
    expect(at("in-kernel", 0).counts?.hops).toBe(0);
    expect(at("channel", 0).calibrated?.sel4_us).toBeGreaterThan(0);
    // The host's own IPC from Node, and from C where a compiler is.
    const mechanisms = (lang: string) => [...new Set(lab.host.filter((h) => h.lang === lang).map((h) => h.mechanism))].sort();
    expect(mechanisms("node")).toEqual(["pipe", "tcp-loopback", "unix-socket"]);
    if (spawnSync("gcc", ["--version"]).status === 0) expect(mechanisms("c")).toEqual(["pipe", "tcp-loopback", "unix-socket"]);
  });
});
