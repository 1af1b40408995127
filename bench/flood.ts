// npm run bench:flood [-- --json] [-- --traps N] [-- --notifies N] [-- --slow N] [-- --help]
// What one hostile caller costs everyone else. Boots a process-mode system with the
// dashboard, then, one attack at a time: the least privileged label (`spin`, no ipc at
// all) publishes N denied traps as fast as it can; `user` publishes N notifies to ata
// (each flooder its own process); N slowloris connections and 64 event streams that never
// read go to the dashboard; 32 walkers stat a path of PATH_DEPTH_MAX names through vfs.
// Meanwhile another caller does its own work in a loop (a 4 KiB read from the ATA driver,
// GET /api/state, a stat through vfs), and the run records its latency idle (just before)
// and attacked, what was refused or dropped per second, how many services rs restarted
// (the goal is 0), and the resident memory of kernel-core, vfs and the dashboard (the most
// seen during the attack).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { connect, type Socket } from "node:net";
import { PATH_DEPTH_MAX, Rs } from "#abi";
import { BdevClient, connectClient, createLogger, FsClient, loadCredential, systemClock, waitUntil, type RunningService } from "#libsys";
import { deriveSystemYaml, ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { textTable } from "#base/text-table.ts";

const USAGE = `usage: npm run bench:flood [-- options]
  --json         {"rows":[{attack, sent, sent_per_s, denied_per_s, dropped_per_s, read_p50_us, read_p99_us, idle_p50_us, idle_p99_us, rs_restarts, rss_mb}]}
  --traps N      denied traps published by spin (default 300000)
  --notifies N   notifies published by user to ata (default 150000)
  --slow N       slowloris connections to the dashboard, besides 64 streams that never read (default 2000)
  --help         this text
Each attacker is its own process (bench/flood-sender.ts). denied: traps the kernel
answered with an errno (mk_messages_total other than ok: spin has not even said SYS_HELLO,
so EDEADSRCDST before its privileges are looked at); dropped: traps dropped before any work because
their caller had too many waiting (mk_traps_dropped_total); both per second of the flood.
rs_restarts sums rs's restart counts.`;

function cli() {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        traps: { type: "string", default: "300000" },
        notifies: { type: "string", default: "150000" },
        slow: { type: "string", default: "2000" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench:flood: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = cli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function count(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000) {
    console.error(`bench:flood: --${name} must be a whole number from 0 to 10000000, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
const traps = count("traps", values.traps);
const notifies = count("notifies", values.notifies);
const slow = count("slow", values.slow);

interface Row {
  attack: string;
  victim: string;
  sent: number;
  sent_per_s: number;
  denied_per_s: number;
  dropped_per_s: number;
  idle_p50_us: number;
  idle_p99_us: number;
  read_p50_us: number;
  read_p99_us: number;
  read_max_us: number;
  rs_restarts: number;
  rss_mb: Record<string, number>;
}

const READER = `
  bench-reader:
    ipc: [ata, rs, vfs]
    calls: [getinfo]
    block: { ata: { raw: rw } }
  bench-deep:
    ipc: [vfs]
    calls: [getinfo]
`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** A counter of the kernel's /metrics, all its label sets together. */
async function counter(base: string, name: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, "gm"))) n += Number(m[1]);
  return n;
}

/** Traps the kernel answered with an errno (mk_messages_total of every result but ok). */
async function refusedCount(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  let n = 0;
  for (const m of text.matchAll(/^mk_messages_total\{[^}]*result="(?!ok")[^"]*"[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function restartsTotal(c: RunningService): Promise<number> {
  const r = await c.sys.sendrec("rs", Rs.RS_LIST, {}, undefined, 30_000);
  return r.args.services.reduce((n, s) => n + s.restarts, 0);
}

/** Runs op until `until` resolves; the latencies in µs. */
async function victimLoop(op: () => Promise<unknown>, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const out: number[] = [];
  while (!done) {
    const t0 = performance.now();
    await op();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** One trap flooder, in its own process: how long its flood took to send, in ms. */
async function flood(creds: string, kind: "denied" | "notify", n: number): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, "bench", "flood-sender.ts")], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MK_FLOOD_N: String(n), MK_FLOOD_KIND: kind, MK_FLOOD_CREDS: creds },
    timeout: 600_000,
  });
  return Number(stdout.trim());
}

/** What one attack did: how many it sent, in how long, and what the target refused or dropped. */
interface Outcome {
  sent: number;
  sendMs: number;
  denied: number;
  dropped: number;
}

interface Attack {
  attack: string;
  /** The other caller's operation, measured idle and during the attack. */
  victim: string;
  op: () => Promise<unknown>;
  prepare?: () => Promise<void>;
  /** Runs the attack; resolves when it has been sent. */
  run: () => Promise<Outcome>;
}

/** slowloris: connections that send part of a request line and nothing more, and event streams that never read. */
async function slowloris(base: URL, n: number): Promise<Outcome> {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  const t0 = performance.now();
  const open = (i: number, request: string, read: boolean) =>
    new Promise<void>((resolve) => {
      const socket = connect({ host: base.hostname, port: Number(base.port), localAddress: `127.0.0.${1 + (i % 16)}` });
      sockets.push(socket);
      socket.on("error", () => undefined);
      socket.once("close", () => {
        closedByServer++;
        resolve();
      });
      socket.once("connect", () => socket.write(request, () => resolve()));
      if (!read) socket.once("data", () => socket.pause());
    });
  for (let i = 0; i < n; i += 250)
    await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, k) => open(i + k, "GET /api/state HTTP/1.1\r\n", true)));
  await Promise.all(Array.from({ length: 64 }, (_, i) => open(100 + i, `GET /api/stream HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`, false)));
  const sendMs = performance.now() - t0;
  await systemClock.sleep(1000);
  const dropped = closedByServer;
  for (const s of sockets) s.destroy();
  return { sent: n + 64, sendMs, denied: 0, dropped };
}

/** 32 walkers stat a path of `depth` directories as fast as vfs answers, for ms. */
async function deepWalks(fs: FsClient, depth: number, ms: number): Promise<Outcome> {
  const path = `/deep${"/d".repeat(depth - 1)}`;
  const until = performance.now() + ms;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < until) {
        await fs.stat(path);
        sent++;
      }
    }),
  );
  return { sent, sendMs: ms, denied: 0, dropped: 0 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-flood-"));
  const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
  writeFileSync(
    join(dir, "system.yaml"),
    deriveSystemYaml(shipped, { httpPort: 0, sectors: 16384, services: READER, unstarted: ["shell", "workload"] }),
  );
  const sys = await ProcessSystem.up({
    system: join(dir, "system.yaml"),
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "warn", MKOS_DASHBOARD_PORT: "0" },
  });
  const log = createLogger("bench");
  log.level = "warn";
  const rows: Row[] = [];
  try {
    const reader = await connectClient("bench-reader", loadCredential(sys.credFile("bench-reader")), { log });
    const disk = new BdevClient(reader.sys, "ata", { timeoutMs: 30_000 });
    await disk.openMinor(0);
    let lba = 0;
    const read4k = () => disk.read((lba = (lba + 8) % 4096), 8);
    const attacker = await connectClient("bench-deep", loadCredential(sys.credFile("bench-deep")), { log });
    const deepFs = new FsClient(attacker.sys);
    const readerFs = new FsClient(reader.sys);
    const dash = await waitUntil(
      () => {
        try {
          return new URL((JSON.parse(readFileSync(join(sys.state.runDir, "dashboard.json"), "utf8")) as { base: string }).base);
        } catch {
          return undefined;
        }
      },
      { clock: systemClock, deadlineMs: 30_000, what: "the dashboard's dashboard.json" },
    );
    const getState = () => fetch(new URL("/api/state", dash)).then((r) => r.arrayBuffer());
    const base = sys.state.kernelHttp;
    const trapFlood = async (user: string, kind: "denied" | "notify", n: number): Promise<Outcome> => {
      const [deniedBefore, droppedBefore] = [await refusedCount(base), await counter(base, "mk_traps_dropped_total")];
      const sendMs = await flood(sys.credFile(user), kind, n);
      // What was queued drains.
      await systemClock.sleep(1000);
      return {
        sent: n,
        sendMs,
        denied: (await refusedCount(base)) - deniedBefore,
        dropped: (await counter(base, "mk_traps_dropped_total")) - droppedBefore,
      };
    };
    const attacks: Attack[] = [
      {
        attack: "denied traps from spin (no ipc) to ata",
        victim: "ata 4 KiB read",
        op: read4k,
        run: () => trapFlood("spin", "denied", traps),
      },
      { attack: "notifies from user to ata", victim: "ata 4 KiB read", op: read4k, run: () => trapFlood("user", "notify", notifies) },
      {
        attack: `${slow} slowloris connections + 64 non-reading streams to the dashboard`,
        victim: "GET /api/state",
        op: getState,
        run: () => slowloris(dash, slow),
      },
      {
        attack: `32 walks of a ${PATH_DEPTH_MAX}-name path through vfs`,
        victim: "stat / through vfs",
        op: () => readerFs.stat("/"),
        prepare: async () => {
          let at = "/deep";
          await deepFs.mkdir(at);
          for (let i = 1; i < PATH_DEPTH_MAX; i++) await deepFs.mkdir((at += "/d"));
        },
        run: () => deepWalks(deepFs, PATH_DEPTH_MAX, 3000),
      },
    ].filter(
      (a) =>
        !(a.attack.startsWith("denied") && traps === 0) &&
        !(a.attack.startsWith("notifies") && notifies === 0) &&
        !(a.attack.includes("slowloris") && slow === 0),
    );
    for (const a of attacks) {
      await a.prepare?.();
      // The victim's own idle latency, measured in the same run just before the attack.
      const idle = await victimLoop(a.op, systemClock.sleep(2000));
      const restartsBefore = await restartsTotal(reader);
      const peak: Record<string, number> = { kernel: 0, vfs: 0, dashboard: 0 };
      const sampler = setInterval(() => {
        for (const part of Object.keys(peak)) peak[part] = Math.max(peak[part], rssMb(sys.pidOf(part)));
      }, 100);
      const t0 = performance.now();
      const outcome = a.run();
      const during = await victimLoop(a.op, outcome);
      const o = await outcome;
      const spanS = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      // rs's heartbeats have had two periods to miss, if they were going to.
      await systemClock.sleep(2500);
      rows.push({
        attack: a.attack,
        victim: a.victim,
        sent: o.sent,
        sent_per_s: Math.round(o.sent / (o.sendMs / 1000)),
        denied_per_s: Math.round(o.denied / spanS),
        dropped_per_s: Math.round(o.dropped / spanS),
        idle_p50_us: Math.round(pct(idle, 0.5)),
        idle_p99_us: Math.round(pct(idle, 0.99)),
        read_p50_us: Math.round(pct(during, 0.5)),
        read_p99_us: Math.round(pct(during, 0.99)),
        read_max_us: Math.round(Math.max(0, ...during)),
        rs_restarts: (await restartsTotal(reader)) - restartsBefore,
        rss_mb: peak,
      });
    }
    await attacker.stop();
    await reader.stop();
  } finally {
    await sys.down();
    // MK_BENCH_KEEP=1 keeps the run directory (logs) to read after.
    if (process.env.MK_BENCH_KEEP === "1") console.error(`bench:flood: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) {
    console.log(JSON.stringify({ rows, date: new Date().toISOString() }));
    return;
  }
  const head = [
    "ATTACK",
    "SENT",
    "SENT/s",
    "DENIED/s",
    "DROPPED/s",
    "VICTIM",
    "idle p50/p99",
    "attacked p50/p99/max",
    "p99 ratio",
    "RS RESTARTS",
    "RSS MB kernel/vfs/dashboard",
  ];
  const ms = (us: number) => `${(us / 1000).toFixed(2)}`;
  const body = rows.map((r) => [
    r.attack,
    String(r.sent),
    String(r.sent_per_s),
    String(r.denied_per_s),
    String(r.dropped_per_s),
    r.victim,
    `${ms(r.idle_p50_us)}/${ms(r.idle_p99_us)} ms`,
    `${ms(r.read_p50_us)}/${ms(r.read_p99_us)}/${ms(r.read_max_us)} ms`,
    (r.read_p99_us / Math.max(1, r.idle_p99_us)).toFixed(2),
    String(r.rs_restarts),
    `${r.rss_mb.kernel}/${r.rss_mb.vfs}/${r.rss_mb.dashboard}`,
  ]);
  console.log(textTable(head, body));
  console.log(
    "Each attack runs alone; the victim is another caller's operation, idle measured in the same run just before it. DENIED/s: traps the kernel answered with an errno; DROPPED/s: traps dropped before any work, or the dashboard's connections it ended. The goal for rs restarts is 0.",
  );
}

await main();
process.exit(0);
