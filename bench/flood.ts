// npm run bench:flood [-- --json] [-- --traps N] [-- --notifies N] [-- --help]
// What one hostile caller's flood costs everyone else. Boots a process-mode system with
// its demo services, then, one attack at a time: the least privileged label (`spin`, no
// ipc at all) publishes N denied traps as fast as it can; `user` publishes N notifies to
// ata. Meanwhile another caller reads 4 KiB from the ATA driver in a loop, and the run
// records that reader's latency (idle before, during the flood), how many traps the
// kernel refused or dropped per second, how many services rs restarted (the goal is 0),
// and the resident memory of kernel-core, vfs and the dashboard (the most seen).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Rs, type ServiceStatus } from "#abi";
import { BdevClient, connectClient, createLogger, loadCredential, systemClock, type RunningService } from "#libsys";
import { deriveSystemYaml, ProcessSystem, PROJECT_ROOT } from "../services/mkctl/src/index.ts";

const USAGE = `usage: npm run bench:flood [-- options]
  --json         {"rows":[{attack, sent, sent_per_s, denied_per_s, dropped_per_s, read_p50_us, read_p99_us, idle_p50_us, idle_p99_us, rs_restarts, rss_mb}]}
  --traps N      denied traps published by spin (default 300000)
  --notifies N   notifies published by user to ata (default 150000)
  --help         this text
Each attacker is its own process (bench/flood-sender.ts). denied: traps the kernel
answered with an errno (mk_messages_total other than ok: spin has not even said SYS_HELLO,
so EDEADSRCDST before its privileges are looked at); dropped: traps dropped before any work because
their caller had too many waiting (mk_traps_dropped_total); both per second of the flood.
rs_restarts sums rs's restart counts.`;

function cli() {
  try {
    return parseArgs({ options: { json: { type: "boolean", default: false }, traps: { type: "string", default: "300000" }, notifies: { type: "string", default: "150000" }, help: { type: "boolean", default: false } } }).values;
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

export interface Row {
  attack: string;
  sent: number;
  sent_per_s: number;
  denied_per_s: number;
  dropped_per_s: number;
  idle_p50_us: number;
  idle_p99_us: number;
  read_p50_us: number;
  read_p99_us: number;
  rs_restarts: number;
  rss_mb: Record<string, number>;
}

const READER = `
  bench-reader:
    ipc: [ata, rs]
    calls: [getinfo]
    block: { ata: { raw: rw } }
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
  const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => "");
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, "gm"))) n += Number(m[1]);
  return n;
}

/** Traps the kernel answered with an errno (mk_messages_total of every result but ok). */
async function refusedCount(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => "");
  let n = 0;
  for (const m of text.matchAll(/^mk_messages_total\{[^}]*result="(?!ok")[^"]*"[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function restartsTotal(c: RunningService): Promise<number> {
  const r = await c.sys.sendrec("rs", Rs.RS_LIST, {}, undefined, 30_000);
  return ((r.args as { services: ServiceStatus[] }).services).reduce((n, s) => n + s.restarts, 0);
}

/** Reads 4 KiB from ata until `until` resolves; the latencies in µs. */
async function readLoop(disk: BdevClient, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const out: number[] = [];
  let lba = 0;
  while (!done) {
    const t0 = performance.now();
    await disk.read(lba, 8);
    out.push((performance.now() - t0) * 1000);
    lba = (lba + 8) % 4096;
  }
  return out;
}

/** One attacker, in its own process: how long its flood took to send, in ms. */
async function flood(creds: string, kind: "denied" | "notify", n: number): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, "bench", "flood-sender.ts")], {
    cwd: PROJECT_ROOT, env: { ...process.env, MK_FLOOD_N: String(n), MK_FLOOD_KIND: kind, MK_FLOOD_CREDS: creds }, timeout: 600_000,
  });
  return Number(stdout.trim());
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-flood-"));
  const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
  writeFileSync(join(dir, "system.yaml"), deriveSystemYaml(shipped, { httpPort: 0, sectors: 16384, services: READER, unstarted: ["shell", "workload"] }));
  const sys = await ProcessSystem.up({ system: join(dir, "system.yaml"), runDir: join(dir, "run"), disk: join(dir, "disk.img"), env: { MK_LOG_LEVEL: "warn" } });
  const log = createLogger("bench");
  log.level = "warn";
  const rows: Row[] = [];
  try {
    const reader = await connectClient("bench-reader", loadCredential(sys.credFile("bench-reader")), { log });
    const disk = new BdevClient(reader.sys, "ata", { timeoutMs: 30_000 });
    await disk.openMinor(0);
    const attacks: { attack: string; n: number; user: string; kind: "denied" | "notify" }[] = [
      { attack: "denied traps from spin (no ipc) to ata", n: traps, user: "spin", kind: "denied" },
      { attack: "notifies from user to ata", n: notifies, user: "user", kind: "notify" },
    ];
    const base = sys.state.kernelHttp;
    for (const a of attacks) {
      if (a.n === 0) continue;
      // The reader's own idle latency, measured in the same run just before the flood.
      const idle = await readLoop(disk, systemClock.sleep(2000));
      const restartsBefore = await restartsTotal(reader);
      const [deniedBefore, droppedBefore] = [await refusedCount(base), await counter(base, "mk_traps_dropped_total")];
      const peak: Record<string, number> = { kernel: 0, vfs: 0, dashboard: 0 };
      const sampler = setInterval(() => {
        for (const part of Object.keys(peak)) peak[part] = Math.max(peak[part], rssMb(sys.pidOf(part)));
      }, 100);
      const t0 = performance.now();
      const sent = flood(sys.credFile(a.user), a.kind, a.n);
      // The reader goes on until the flood is sent and a second after (what was queued drains).
      const during = await readLoop(disk, sent.then(() => systemClock.sleep(1000)));
      const sendMs = await sent;
      const floodS = (performance.now() - t0) / 1000;
      const [denied, dropped] = [(await refusedCount(base)) - deniedBefore, (await counter(base, "mk_traps_dropped_total")) - droppedBefore];
      clearInterval(sampler);
      // rs's heartbeats have had two periods to miss, if they were going to.
      await systemClock.sleep(2500);
      rows.push({
        attack: a.attack, sent: a.n, sent_per_s: Math.round(a.n / (sendMs / 1000)), denied_per_s: Math.round(denied / floodS), dropped_per_s: Math.round(dropped / floodS),
        idle_p50_us: Math.round(pct(idle, 0.5)), idle_p99_us: Math.round(pct(idle, 0.99)),
        read_p50_us: Math.round(pct(during, 0.5)), read_p99_us: Math.round(pct(during, 0.99)),
        rs_restarts: (await restartsTotal(reader)) - restartsBefore, rss_mb: peak,
      });
    }
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
  const head = ["ATTACK", "SENT", "SENT/s", "DENIED/s", "DROPPED/s", "READ idle p50/p99", "READ flood p50/p99", "p99 ratio", "RS RESTARTS", "RSS MB kernel/vfs/dashboard"];
  const ms = (us: number) => `${(us / 1000).toFixed(2)}`;
  const body = rows.map((r) => [r.attack, String(r.sent), String(r.sent_per_s), String(r.denied_per_s), String(r.dropped_per_s), `${ms(r.idle_p50_us)}/${ms(r.idle_p99_us)} ms`, `${ms(r.read_p50_us)}/${ms(r.read_p99_us)} ms`, (r.read_p99_us / Math.max(1, r.idle_p99_us)).toFixed(2), String(r.rs_restarts), `${r.rss_mb.kernel}/${r.rss_mb.vfs}/${r.rss_mb.dashboard}`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  console.log([head, ...body].map((cols) => cols.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n"));
  console.log("read: a 4 KiB BDEV_READ from the ATA driver by another caller; idle is measured in the same run just before each flood; the goal for rs restarts is 0.");
}

await main();
process.exit(0);
