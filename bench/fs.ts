// npm run bench:fs [-- --json] [-- --rounds N] [-- --batch N] [-- --arch NAME] [-- --help]
// What the file systems cost: each file operation through vfs and mfs (and, below them,
// the ATA driver and the emulator), against the raw NATS round trip and the block path
// (a 4 KiB read from the ATA driver) measured in the same run, before and after the file
// operations (the baseline is their mean; both are printed). Then sequential throughput:
// a 4 MiB file written (and fsync'd) and read back through vfs, against 512 KiB block
// reads straight from the driver.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BdevClient, connectClient, createLogger, FsClient, loadCredential } from "#libsys";
import { parseSystemTable } from "#base/system-table.ts";
import { archPlacement, loadArch, ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { benchSystemYaml, columns, measure, quantile } from "./measure.ts";

const USAGE = `usage: npm run bench:fs [-- options]
  --json       {"rows":[{path, p50_us, p99_us, ratio, n}], "throughput":[{path, mb_s, ratio}], "baseline":{...}}
  --rounds N   rounds over the file operations (default 5)
  --batch N    operations per path per round (default 40)
  --arch NAME  the kernel architecture (etc/arch: microkernel, the default, hybrid, monolithic)
  --help       this text`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        rounds: { type: "string", default: "5" },
        batch: { type: "string", default: "40" },
        arch: { type: "string", default: "microkernel" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    console.error(`bench:fs: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = (name: string, raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    console.error(`bench:fs: --${name} needs an integer from 1 to 100000, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const rounds = count("rounds", values.rounds);

/**
 * The NATS deliveries of one sendrec: 4 on the trap path (caller, kernel, server, kernel,
 * caller), 3 on reply-direct (the server answers the caller), 2 when one end is inside
 * kernel-core (the trap to it and its answer), none between two parts inside it.
 */
function deliveries(callerInKernel: boolean, serverInKernel: boolean, trap: boolean): number {
  if (callerInKernel && serverInKernel) return 0;
  if (callerInKernel || serverInKernel) return 2;
  return trap ? 4 : 3;
}
const arch = (() => {
  try {
    return loadArch(values.arch);
  } catch (e) {
    console.error(`bench:fs: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
const batch = count("batch", values.batch);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-bench-fs-"));
  const trapOnly = process.env.MK_IPC_PATH === "trap";
  const vfsIn = arch.kernel.includes("vfs");
  const mfsIn = arch.kernel.includes("mfs");
  const floor = {
    hops: deliveries(false, vfsIn, trapOnly) + deliveries(vfsIn, mfsIn, trapOnly),
    what: vfsIn
      ? mfsIn
        ? "1 sendrec into kernel-core"
        : "2 sendrecs, vfs inside kernel-core"
      : trapOnly
        ? "2 trap sendrecs"
        : "2 reply-direct sendrecs",
  };
  // The benchmark's table, its client also allowed to reach vfs, by reply-direct as the workload does,
  // and the disk as mfs does (MK_IPC_PATH=trap measures every pair on the trap path instead).
  writeFileSync(
    join(dir, "system.yaml"),
    benchSystemYaml(true, {
      sectors: 65536,
      placement: archPlacement(parseSystemTable(readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8")), arch),
      edit: (d) => {
        d.addIn(["services", "bench-client", "ipc"], "vfs");
        d.setIn(["services", "bench-client", "paths", "vfs"], "reply-direct");
        d.setIn(["services", "bench-client", "paths", "ata"], "reply-direct");
      },
    }),
  );
  const sys = await ProcessSystem.up({
    system: join(dir, "system.yaml"),
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "warn" },
  });
  const log = createLogger("bench");
  log.level = "warn";
  // measure() also sets up bench:ipc's relay path; its party borrows the kernel's NATS user.
  const relay = spawn(process.execPath, [join(PROJECT_ROOT, "bench", "relay-server.ts")], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, MK_CREDS: sys.credFile("kernel"), MK_LOG_LEVEL: "warn" },
  });
  const relayExited = new Promise((r) => relay.once("exit", r));
  try {
    const client = await connectClient("bench-client", loadCredential(sys.credFile("bench-client")), { log });
    const baseline = () =>
      measure({
        client: client.sys,
        rawCred: loadCredential(sys.credFile("kernel")),
        systemYaml: readFileSync(join(dir, "system.yaml"), "utf8"),
        rounds,
        batch,
        only: ["ata-read-4k"],
      });
    const before = await baseline();

    const fs = new FsClient(client.sys);
    await fs.mkdir("/bench", { recursive: true });
    const block = new Uint8Array(4096).map((_, i) => i & 0xff);
    await fs.writeFile("/bench/f", new Uint8Array(64 * 1024));
    const h = await fs.open("/bench/f", "r+");
    // Four files written and fsync'd at the same time: the first fsync's flush carries the
    // others' writes, and an fsync that then finds nothing dirty asks nothing of the disk.
    const group = await Promise.all([0, 1, 2, 3].map(async (i) => fs.open(`/bench/g${i}`, "w+")));
    let seq = 0;
    // What one change's disk request costs alone: a client's 4 KiB write with the flush on it,
    // straight to the driver (the raw area, outside the file system), as mfs sends a change's blocks.
    const bdev = new BdevClient(client.sys, "ata");
    await bdev.openMinor(0);
    const paths: { path: string; op: () => Promise<unknown>; per?: number }[] = [
      {
        path: "ata-write-4k + flush (block path: a change's disk request)",
        op: () => bdev.writev([{ lba: 16384, data: block }], { flush: true }),
      },
      { path: "vfs-stat /bench/f", op: () => fs.stat("/bench/f") },
      { path: "vfs-pread-4k (mfs cache)", op: () => h.read(4096, 8192) },
      { path: "vfs-pwrite-4k (unstable)", op: () => h.write(block, 16384) },
      { path: "vfs-pwrite-4k + fsync", op: async () => (await h.write(block, 20480), await h.sync()) },
      { path: "vfs-create + close (empty)", op: () => fs.writeFile(`/bench/c${seq++}`, "", { flag: "wx" }) },
      { path: "vfs-unlink", op: () => fs.unlink(`/bench/c${--seq}`) },
      {
        path: "4 at once: pwrite-4k + fsync each (all done; disk per fsync)",
        op: () => Promise.all(group.map(async (g) => (await g.write(block, 0), await g.sync()))),
        per: 4,
      },
    ];
    const samples = new Map(paths.map((p) => [p.path, [] as number[]]));
    // What mfs asked of the driver for each path (its statfs counts requests; statfs itself asks nothing).
    const io = new Map(paths.map((p) => [p.path, { reads: 0, writes: 0, flushes: 0 }]));
    const counts = async () => (await fs.statfs("/")).io ?? { reads: 0, writes: 0, flushes: 0 };
    for (const p of paths) for (let i = 0; i < 10; i++) await p.op(); // warm-up (creates and unlinks pair up)
    for (let r = 0; r < rounds; r++) {
      for (const p of paths) {
        const c0 = await counts();
        for (let i = 0; i < batch; i++) {
          const t0 = process.hrtime.bigint();
          await p.op();
          samples.get(p.path)!.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
        const c1 = await counts();
        const sum = io.get(p.path)!;
        for (const k of ["reads", "writes", "flushes"] as const) sum[k] += c1[k] - c0[k];
      }
    }
    const perOp = (path: string) => {
      const c = io.get(path)!;
      const n = rounds * batch * (paths.find((p) => p.path === path)?.per ?? 1);
      return { disk_reads: +(c.reads / n).toFixed(2), disk_writes: +(c.writes / n).toFixed(2), flushes: +(c.flushes / n).toFixed(2) };
    };
    await h.close();
    for (const g of group) await g.close();
    const after = await baseline();
    const raw = (before.find((x) => x.path === "nats-raw")!.p50_us + after.find((x) => x.path === "nats-raw")!.p50_us) / 2;
    const ata = (before.find((x) => x.path === "ata-read-4k")!.p50_us + after.find((x) => x.path === "ata-read-4k")!.p50_us) / 2;
    const rows = [
      {
        path: "nats-raw (mean of before and after)",
        p50_us: +raw.toFixed(1),
        p99_us: Math.max(before[0].p99_us, after[0].p99_us),
        n: before[0].n + after[0].n,
      },
      {
        path: "ata-read-4k (block path)",
        p50_us: +ata.toFixed(1),
        p99_us: Math.max(before[1].p99_us, after[1].p99_us),
        n: before[1].n + after[1].n,
      },
      // What a cached read cannot go below: the NATS deliveries of client -> vfs and vfs ->
      // mfs (a delivery is half a raw round trip). Computed from nats-raw, not measured.
      { path: `floor: ${floor.what} = ${floor.hops} NATS hops`, p50_us: +((floor.hops / 2) * raw).toFixed(1), p99_us: 0, n: 0 },
      ...paths.map((p) => {
        const s = samples.get(p.path)!.sort((a, b) => a - b);
        return { path: p.path, p50_us: +quantile(s, 0.5).toFixed(1), p99_us: +quantile(s, 0.99).toFixed(1), n: s.length, ...perOp(p.path) };
      }),
    ].map((r) => ({ ...r, ratio: +(r.p50_us / raw).toFixed(2) }));

    // Throughput: 4 MiB through vfs (write + fsync, then read), against 512 KiB block reads.
    const MiB = 1024 * 1024;
    const big = new Uint8Array(4 * MiB).map((_, i) => (i * 31) & 0xff);
    let t0 = performance.now();
    const w = await fs.open("/bench/big", "w");
    await w.write(big);
    await w.close(); // commits (fsync)
    const writeMs = performance.now() - t0;
    // Another file through the cache, so the 4 MiB file is read from the disk, not from mfs's cache.
    await fs.writeFile("/bench/cool", new Uint8Array(2 * MiB));
    t0 = performance.now();
    const back = await fs.readFile("/bench/big");
    const readMs = performance.now() - t0;
    if (Buffer.compare(back, Buffer.from(big)) !== 0) throw new Error("bench:fs: the 4 MiB file read back differs");
    // The same reads with no disk under them: a file mfs has cached, read whole, again and
    // again. The trap path's hops carry every byte (4 of them with data per 256 KiB request):
    // no file read from the disk can beat this.
    await fs.writeFile("/bench/warm", big.subarray(0, 512 * 1024));
    await fs.readFile("/bench/warm");
    t0 = performance.now();
    for (let i = 0; i < 8; i++) await fs.readFile("/bench/warm");
    const cachedMs = performance.now() - t0;
    t0 = performance.now();
    for (let lba = 0; lba < 8192; lba += 1024) await bdev.read(lba, 1024);
    const blockMs = performance.now() - t0;
    const mbs = (bytes: number, ms: number) => +(bytes / MiB / (ms / 1000)).toFixed(2);
    const blockMbs = mbs(4 * MiB, blockMs);
    const throughput = [
      { path: "block reads, 512 KiB each (ata)", mb_s: blockMbs },
      { path: "vfs write 4 MiB + fsync", mb_s: mbs(4 * MiB, writeMs) },
      { path: "vfs read 4 MiB (256 KiB requests)", mb_s: mbs(4 * MiB, readMs) },
      { path: "vfs read, all in mfs's cache (the hops' floor)", mb_s: mbs(4 * MiB, cachedMs) },
    ].map((r) => ({ ...r, ratio: +(r.mb_s / blockMbs).toFixed(2) }));
    await client.stop();

    if (values.json) {
      console.log(JSON.stringify({ arch: arch.name, rows, throughput, baseline: { before, after } }));
      return;
    }
    const cols = (head: string[], body: string[][]) => columns(head, body).join("\n");
    const how = trapOnly
      ? "every sendrec on the trap path (MK_IPC_PATH=trap)"
      : arch.kernel.length > 0
        ? "the pairs between processes as the table says"
        : "client -> vfs -> mfs -> ata on reply-direct (the table)";
    const where = arch.kernel.length > 0 ? `, the ${arch.name} architecture (inside kernel-core: ${arch.kernel.join(", ")})` : "";
    console.log(`mkos file-system benchmark, process mode${where}, ${how}: ${rounds} rounds x ${batch} per path, node ${process.version}`);
    console.log(
      cols(
        ["path", "p50 us", "p99 us", "p50 / nats-raw", "samples", "disk reads/op", "disk writes/op", "flushes/op"],
        rows.map((r) => [
          r.path,
          r.p50_us.toFixed(1),
          r.n === 0 ? "" : r.p99_us.toFixed(1),
          `${r.ratio.toFixed(2)}x`,
          r.n === 0 ? "computed" : String(r.n),
          ...("disk_reads" in r ? [String(r.disk_reads), String(r.disk_writes), String(r.flushes)] : ["", "", ""]),
        ]),
      ),
    );
    console.log("");
    console.log(
      cols(
        ["sequential", "MB/s", "/ block reads"],
        throughput.map((r) => [r.path, r.mb_s.toFixed(2), `${r.ratio.toFixed(2)}x`]),
      ),
    );
  } finally {
    relay.kill("SIGTERM");
    await relayExited;
    await sys.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:fs failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
