// npm run bench:ipc [-- --json] [-- --rounds N]
// What one boundary crossing costs. Boots a process-mode mkos (real nats-server, every
// party its own process), then measures each path in interleaved rounds so machine noise
// spreads evenly, and prints p50/p99 with the p50 ratio against nats-raw from this run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect, headers } from "@nats-io/transport-node";
import { Bdev, Common } from "../kernel-core/abi/index.ts";
import { Kernel } from "../kernel-core/src/kernel.ts";
import { KernelTransport } from "../kernel-core/src/ipc/kernel-transport.ts";
import { KernelMetrics } from "../kernel-core/src/http/metrics.ts";
import { parseSystemTable } from "../kernel-core/src/priv/system-table.ts";
import { connectClient, createLogger, loadCredential, startService, systemClock, type Sys } from "../services/libsys/src/index.ts";
import { RequestMux } from "../services/libsys/src/request-mux.ts";
import { ProcessSystem, PROJECT_ROOT } from "../services/mkctl/src/index.ts";
import { RAW_SUBJECT } from "./raw-subject.ts";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, rounds: { type: "string", default: "10" }, batch: { type: "string", default: "200" }, paths: { type: "string" } } });
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);

const BENCH_SERVICES = `
  bench-echo:
    command: [node, bench/echo-server.ts]
    ipc: []
  bench-client:
    ipc: [bench-echo, ata]
    calls: [getinfo]
`;

function benchYaml(): string {
  const yaml = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8").replace(/http_port: \d+/, "http_port: 0").replace(/sectors: \d+/, "sectors: 16384");
  return yaml.replace(/\n  mkctl:/, `${BENCH_SERVICES}  mkctl:`);
}

type Op = () => Promise<unknown>;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-bench-"));
  const log = createLogger("bench");
  log.level = "warn";
  writeFileSync(join(dir, "system.yaml"), benchYaml());
  const sys = await ProcessSystem.up({ system: join(dir, "system.yaml"), runDir: join(dir, "run"), disk: join(dir, "disk.img"), env: { MK_LOG_LEVEL: "warn" } });
  try {
    const client = await connectClient("bench-client", loadCredential(sys.credFile("bench-client")), { log });
    const kc = loadCredential(sys.credFile("kernel"));
    const raw = await connect({ servers: kc.servers, user: kc.user, pass: kc.password, name: "bench-raw", inboxPrefix: "_INBOX.kernel" });
    // The baseline uses the same request machinery as libsys and the kernel, so the ratios
    // measure the kernel's hops and nothing else.
    const rawMux = new RequestMux(raw, "_INBOX.kernel", systemClock);
    rawMux.start();
    await client.sys.sendrec("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 0, count: 8 }, new Uint8Array(4096).fill(7));

    // in-kernel: kernel-core's own trap path, both parties placed in the kernel.
    const priv = parseSystemTable(benchYaml());
    const kernel = new Kernel({ priv, hw: { io: async () => ({ values: [], data: new Uint8Array(0) }), fault: async () => undefined }, log, clock: systemClock, metrics: new KernelMetrics(false) });
    await startService({ label: "bench-echo", create: () => ({ handlers: {} }) }, new KernelTransport("bench-echo", kernel.ipc, log), { log });
    const inKernel = await startService({ label: "bench-client", create: () => ({ handlers: {} }) }, new KernelTransport("bench-client", kernel.ipc, log), { log });

    const echoFn = async (x: Uint8Array) => x;
    const empty = new Uint8Array(0);
    const paths: { path: string; op: Op; target?: string }[] = [
      { path: "in-process", op: () => echoFn(empty) },
      { path: "nats-raw", op: () => rawMux.request(RAW_SUBJECT, empty, headers(), 5000) },
      { path: "nats-request", op: () => raw.request(RAW_SUBJECT, empty, { timeout: 5000 }), target: "info: nats.js request(), not the baseline" },
      { path: "kernel-sendrec", op: () => client.sys.sendrec("bench-echo", Common.COMMON_PING), target: "p50 <= 2.5x nats-raw" },
      { path: "in-kernel", op: () => (inKernel.sys as Sys).sendrec("bench-echo", Common.COMMON_PING), target: "p50 < 5 us" },
      { path: "ata-read-4k", op: () => client.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 0, count: 8 }), target: "p50 <= 8x nats-raw" },
    ];
    if (values.paths) {
      const keep = new Set([...values.paths.split(","), "nats-raw"]);
      paths.splice(0, paths.length, ...paths.filter((p) => keep.has(p.path)));
    }
    const samples = new Map<string, number[]>(paths.map((p) => [p.path, []]));
    for (const p of paths) for (let i = 0; i < 100; i++) await p.op(); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of paths) {
        const out = samples.get(p.path)!;
        for (let i = 0; i < BATCH; i++) {
          const t0 = process.hrtime.bigint();
          await p.op();
          out.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
      }
    }
    const rows = paths.map((p) => {
      const s = samples.get(p.path)!.sort((a, b) => a - b);
      return { path: p.path, n: s.length, p50_us: +quantile(s, 0.5).toFixed(2), p99_us: +quantile(s, 0.99).toFixed(2), target: p.target };
    });
    const base = rows.find((r) => r.path === "nats-raw")!.p50_us;
    const out = rows.map((r) => ({ path: r.path, p50_us: r.p50_us, p99_us: r.p99_us, ratio_p50: +(r.p50_us / base).toFixed(3), n: r.n, target: r.target }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ rows: out }) + "\n");
    } else {
      const head = ["path", "p50 us", "p99 us", "p50 / nats-raw", "samples", "target"];
      const body = out.map((r) => [r.path, r.p50_us.toFixed(1), r.p99_us.toFixed(1), `${r.ratio_p50.toFixed(2)}x`, String(r.n), r.target ?? ""]);
      const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
      const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i])).join("  ").trimEnd();
      console.log(`mkos IPC benchmark: ${ROUNDS} rounds x ${BATCH} per path, process mode, node ${process.version}`);
      console.log(line(head));
      console.log(line(w.map((n) => "-".repeat(n))));
      for (const b of body) console.log(line(b));
    }
    rawMux.close(new Error("done"));
    await raw.close();
    await client.stop();
  } finally {
    await sys.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:ipc failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
