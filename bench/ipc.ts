// npm run bench:ipc [-- --json] [-- --compose] [-- --rounds N --batch N --paths a,b] [-- --help]
// npm run lab:ipc [-- --json] [-- --sizes 0,64,4096,65536] [-- --rounds N --batch N] (bench/lab.ts)
// What one boundary crossing costs. Process mode (default) boots mkos as OS processes on
// this host; --compose boots the compose stack and measures from a runner container, with
// every party in its own container. Either way the paths are measured in interleaved
// rounds so machine noise spreads evenly; ratios are against nats-raw of the same run.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectClient, createLogger, loadCredential } from "#libsys";
import { baseImages, detectCompose } from "../services/boot/src/compose.ts";
import { ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { CpuMeter } from "./cpu.ts";
import { LAB_SIZES, labTable, measureLab } from "./lab.ts";
import { benchSystemYaml, measure, PATH_INFO, PATHS, table, type Row } from "./measure.ts";

const USAGE = `usage: npm run bench:ipc [-- options]     (npm run lab:ipc: the same with --lab)
  --json           one JSON object {"rows":[{path,p50_us,p99_us,ratio_p50,...}]} instead of the table
  --lab            every path at each message size, sel4bench's statistics, counts, the host's own IPC
                   (--json: {"rows":[{path,size,min_us,p50_us,mean_us,stddev_us,p99_us,max_us,samples,
                   ratio_raw,ratio_trap,counts,calibrated}],"host":[{mechanism,lang,size,p50_us,p99_us}]})
  --sizes a,b      the lab's message sizes in bytes (default 0,64,4096,65536; each 0..262144)
  --compose        every party in its own container (docker compose), not OS processes
  --rounds N       interleaved rounds (default 10, or BENCH_ROUNDS)
  --batch N        requests per path per round (default 200, or BENCH_BATCH)
  --paths a,b      only these paths (nats-raw, the baseline, is always measured)
  --help           this text
the paths:
${Object.entries(PATH_INFO)
  .map(([p, what]) => `  ${p.padEnd(15)}  ${what}`)
  .join("\n")}`;

function parseCli() {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        compose: { type: "boolean", default: false },
        inside: { type: "boolean", default: false },
        rounds: { type: "string", default: process.env.BENCH_ROUNDS },
        batch: { type: "string", default: process.env.BENCH_BATCH },
        paths: { type: "string" },
        lab: { type: "boolean", default: false },
        sizes: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    return usageError((e as Error).message);
  }
}

function usageError(msg: string): never {
  console.error(`bench:ipc: ${msg}\n${USAGE}`);
  process.exit(2);
}

function count(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    usageError(`--${name} must be a whole number from 1 to 100000, got ${JSON.stringify(raw)}`);
  return n;
}

const values = parseCli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
// The lab measures each path at four sizes: fewer requests per path and size by default.
const rounds = count("rounds", values.rounds ?? (values.lab ? "5" : "10"));
const batch = count("batch", values.batch ?? (values.lab ? "100" : "200"));
const sizes = (values.sizes ?? LAB_SIZES.join(",")).split(",").map((x) => {
  const n = Number(x.trim());
  if (!Number.isInteger(n) || n < 0 || n > 262_144)
    usageError(`--sizes takes whole numbers of bytes from 0 to 262144, got ${JSON.stringify(x)}`);
  return n;
});
if (values.lab && (values.compose || values.paths)) usageError("--lab runs every path in process mode: without --compose and --paths");
const only = values.paths
  ?.split(",")
  .map((p) => p.trim())
  .filter(Boolean);
const unknown = only?.filter((p) => !PATHS.includes(p));
if (unknown?.length) usageError(`unknown path ${unknown.join(", ")}; the paths are ${PATHS.join(", ")}`);
const log = createLogger("bench");
log.level = "warn";

function print(title: string, rows: Row[]): void {
  process.stdout.write(values.json ? `${JSON.stringify({ rows })}\n` : `${table(title, rows)}\n`);
}

/** Every party its own OS process on this host. */
async function processMode(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-bench-"));
  writeFileSync(join(dir, "system.yaml"), benchSystemYaml(true));
  const sys = await ProcessSystem.up({
    system: join(dir, "system.yaml"),
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "warn" },
  });
  // The relay party borrows the kernel's NATS user (see bench/relay-server.ts).
  const relay = spawn(process.execPath, [join(PROJECT_ROOT, "bench", "relay-server.ts")], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, MK_CREDS: sys.credFile("kernel"), MK_LOG_LEVEL: "warn" },
  });
  const relayExited = new Promise((r) => relay.once("exit", r));
  try {
    const client = await connectClient("bench-client", loadCredential(sys.credFile("bench-client")), { log });
    const chan = await connectClient("bench-chan", loadCredential(sys.credFile("bench-chan")), { log });
    const parties = {
      client: client.sys,
      chan: chan.sys,
      rawCred: loadCredential(sys.credFile("kernel")),
      systemYaml: readFileSync(join(dir, "system.yaml"), "utf8"),
      rounds,
      batch,
    };
    if (values.lab) {
      const lab = await measureLab({ ...parties, sizes });
      await client.stop();
      await chan.stop();
      const title = `mkos IPC lab, process mode: ${rounds} rounds x ${batch} per path and size, interleaved, node ${process.version}`;
      process.stdout.write(values.json ? `${JSON.stringify(lab)}\n` : `${labTable(title, lab)}\n`);
      return;
    }
    const cpu = new CpuMeter({ ...sys.pids(), "bench-relay": relay.pid! });
    const rows = await measure({ ...parties, only, cpu });
    await client.stop();
    await chan.stop();
    print(`mkos IPC benchmark, process mode: ${rounds} rounds x ${batch} per path, node ${process.version}`, rows);
  } finally {
    relay.kill("SIGTERM");
    await relayExited;
    await sys.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Inside the runner container of --compose: credentials come from the environment. */
async function insideMode(): Promise<void> {
  const client = await connectClient("bench-client", loadCredential(process.env.MK_CREDS), { log });
  const chan = await connectClient("bench-chan", loadCredential(process.env.MK_CHAN_CREDS), { log });
  // The container's etc/system.yaml is the bench table, bind-mounted by the compose overlay.
  const rows = await measure({
    client: client.sys,
    chan: chan.sys,
    rawCred: loadCredential(process.env.MK_RAW_CREDS),
    systemYaml: readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8"),
    rounds,
    batch,
    only,
  });
  await client.stop();
  await chan.stop();
  print(`mkos IPC benchmark, compose: ${rounds} rounds x ${batch} per path, node ${process.version}`, rows);
}

/** On the host: boot the compose stack with the bench overlay, run the runner, tear down. */
async function composeMode(): Promise<void> {
  const compose = detectCompose();
  const dir = mkdtempSync(join(tmpdir(), "mkos-bench-"));
  const tableFile = join(dir, "system.yaml");
  writeFileSync(tableFile, benchSystemYaml(false));
  const env = {
    ...process.env,
    ...baseImages(),
    MK_BENCH_SYSTEM: tableFile,
    MKOS_TAG: "bench",
    MK_NATS_PORT: "0",
    MKOS_KERNEL_PORT: "0",
    BENCH_ROUNDS: String(rounds),
    BENCH_BATCH: String(batch),
  };
  const args = [
    "-p",
    "mkosbench",
    "-f",
    join(PROJECT_ROOT, "docker-compose.yml"),
    "-f",
    join(PROJECT_ROOT, "bench", "docker-compose.bench.yml"),
  ];
  const run = (...a: string[]) =>
    execFileSync(compose.argv[0], [...compose.argv.slice(1), ...args, ...a], {
      cwd: PROJECT_ROOT,
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 900_000,
    });
  try {
    run("up", "-d", "--build", "bench-echo", "bench-relay", "ata", "tty");
    const out = run(
      "run",
      "--rm",
      "bench-runner",
      "node",
      "bench/ipc.ts",
      "--inside",
      "--json",
      "--rounds",
      String(rounds),
      "--batch",
      String(batch),
      ...(values.paths ? ["--paths", values.paths] : []),
    );
    const line = out
      .trim()
      .split("\n")
      .reverse()
      .find((l) => l.startsWith('{"rows"'));
    if (!line) throw new Error(`the runner printed no result:\n${out}`);
    const rows = (JSON.parse(line) as { rows: Row[] }).rows;
    print(`mkos IPC benchmark, compose (every party its own container): ${rounds} rounds x ${batch} per path`, rows);
  } finally {
    try {
      run("down", "-v", "--remove-orphans");
    } catch {
      /* best effort */
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode = values.inside ? insideMode : values.compose ? composeMode : processMode;
mode().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench:ipc failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
