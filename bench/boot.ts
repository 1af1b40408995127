// npm run bench:boot [-- --json] [-- --boots N] [-- --compose N] [-- --help]
// How long mkos takes to boot, as a user starts it: `mkctl up` from the command to every
// service ready (process mode), and `docker compose up -d` from the command to every
// container healthy (compose). Each mode boots once first, not counted (the dashboard's
// page built, the disk formatted, the image built), then N times on the same disk, each
// followed by a full stop. Beside them, in the same run, the floor: `node -e 0` (one bare
// Node start) and the same Node start loading the kernel's modules without running them,
// process mode again without Node's compile cache (what the cache buys), and under compose
// the CPU each boot took spread over the cores (the machine's, and the containers' alone):
// a boot that takes as long as its CPU over the cores cannot be faster here without less work.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { baseImages, detectCompose } from "../services/boot/src/compose.ts";
import { deriveSystemYaml, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { readFileSync } from "node:fs";

const USAGE = `usage: npm run bench:boot [-- options]
  --json         {"rows": [{"mode": "process" | "compose" | floor rows, "p50_ms", "p99_ms", "n"}]}
  --boots N      process-mode boots to time (default 5)
  --compose N    compose boots to time (default 0: compose is skipped; needs Docker)
  --help         this text
process: mkctl up (the whole system, the dashboard included) until it returns, every
service ready; compose: docker compose up -d until every long-running container is
healthy. The floor rows: one bare Node start, one that imports the kernel's modules, and
for compose the CPU a boot took (the whole machine's, the containers' alone) per core.`;

function cli() {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        boots: { type: "string", default: "5" },
        compose: { type: "string", default: "0" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench:boot: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = cli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function count(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > 100) {
    console.error(`bench:boot: --${name} must be a whole number from ${min} to 100, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const boots = count("boots", values.boots, 1);
const composeBoots = count("compose", values.compose, 0);
const say = (s: string) => {
  if (!values.json) console.error(`bench:boot: ${s}`);
};

interface Row {
  mode: string;
  p50_ms: number;
  p99_ms: number;
  n: number;
}

function row(mode: string, ms: number[]): Row {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { mode, p50_ms: Math.round(at(0.5)), p99_ms: Math.round(at(0.99)), n: s.length };
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, env, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr.slice(-2000)}`);
}

/** The floor under any boot: Node starting, and Node loading the kernel's modules. */
function floor(): Row[] {
  const bare: number[] = [];
  const kernelModules: number[] = [];
  for (let i = 0; i < 5; i++) {
    bare.push(timed(() => run(process.execPath, ["-e", "0"])));
    kernelModules.push(timed(() => run(process.execPath, ["--input-type=module", "-e", 'await import("#kernel")'])));
  }
  return [row("floor: node -e 0", bare), row("floor: node importing the kernel's modules", kernelModules)];
}

function processMode(mode: string, extraEnv: NodeJS.ProcessEnv = {}): Row {
  const dir = mkdtempSync(join(tmpdir(), "mkos-bench-boot-"));
  const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
  writeFileSync(join(dir, "system.yaml"), deriveSystemYaml(shipped, { httpPort: 0, sectors: 32768 }));
  const mkctl = (...a: string[]) =>
    run(process.execPath, [join(PROJECT_ROOT, "services/mkctl/src/main.ts"), ...a, "--run-dir", join(dir, "run")], {
      ...process.env,
      MKOS_DASHBOARD_PORT: "0",
      ...extraEnv,
    });
  const up = () => mkctl("up", "--system", join(dir, "system.yaml"), "--disk", join(dir, "disk.img"));
  const ms: number[] = [];
  try {
    say(`${mode}: a first boot (not counted: the page built, the disk formatted) ...`);
    up();
    mkctl("down");
    for (let i = 0; i < boots; i++) {
      ms.push(timed(up));
      say(`${mode}: boot ${i + 1}/${boots}: ${Math.round(ms.at(-1)!)} ms`);
      mkctl("down");
    }
  } finally {
    spawnSync(process.execPath, [join(PROJECT_ROOT, "services/mkctl/src/main.ts"), "down", "--run-dir", join(dir, "run")], {
      cwd: PROJECT_ROOT,
    });
    rmSync(dir, { recursive: true, force: true });
  }
  return row(mode, ms);
}

/**
 * Until every long-running container of the project is healthy (or running, without a
 * healthcheck). Called once `up -d` returned (every container exists); polled with one
 * `docker inspect` of them all: the benchmark takes as little of the CPU it measures as it can.
 */
function waitHealthy(compose: string[], deadlineMs: number): void {
  const end = Date.now() + deadlineMs;
  const ids = execFileSync(compose[0], [...compose.slice(1), "ps", "-q"], { cwd: PROJECT_ROOT, encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (;;) {
    const states = execFileSync(
      "docker",
      [
        "inspect",
        "--format",
        "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}",
        ...ids,
      ],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n");
    const waiting = states.filter((s) => {
      const [status, health, code] = s.split(" ");
      if (status === "exited" && code === "0") return false;
      return !(status === "running" && (health === "healthy" || health === "none"));
    });
    if (ids.length > 0 && waiting.length === 0) return;
    if (Date.now() > end) throw new Error(`compose: not healthy after ${deadlineMs} ms: ${waiting.join("; ")}`);
    spawnSync("sleep", ["0.2"]);
  }
}

/** CPU time the machine has spent busy so far, all cores together (ms): /proc/stat's cpu line. */
function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal = 0] = f;
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ
}

/** CPU time of every container so far (ms), from the engine's cgroup (v1 cpuacct, or v2); undefined where neither is found. */
function containersCpuMs(): number | undefined {
  try {
    return Number(readFileSync("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage", "utf8")) / 1e6;
  } catch {
    try {
      const usec = /usage_usec (\d+)/.exec(readFileSync("/sys/fs/cgroup/docker/cpu.stat", "utf8"))?.[1];
      return usec === undefined ? undefined : Number(usec) / 1000;
    } catch {
      return undefined;
    }
  }
}

function composeMode(): Row[] {
  const cli = detectCompose();
  const env = {
    ...process.env,
    ...baseImages(),
    MKOS_TAG: "bench-boot",
    MK_NATS_PORT: "0",
    MKOS_KERNEL_PORT: "0",
    MKOS_DASHBOARD_PORT: "0",
  };
  const args = ["-p", "mkosbootbench", "-f", join(PROJECT_ROOT, "docker-compose.yml")];
  const compose = [...cli.argv, ...args];
  const c = (...a: string[]) => run(compose[0], [...compose.slice(1), ...a], env);
  const ms: number[] = [];
  const busy: number[] = [];
  const inContainers: number[] = [];
  const cores = availableParallelism();
  try {
    say("compose: a first boot (not counted: the image built) ...");
    c("up", "-d", "--build");
    waitHealthy(compose, 300_000);
    c("down");
    for (let i = 0; i < composeBoots; i++) {
      const busy0 = machineBusyMs();
      const cont0 = containersCpuMs();
      ms.push(
        timed(() => {
          c("up", "-d");
          waitHealthy(compose, 300_000);
        }),
      );
      busy.push((machineBusyMs() - busy0) / cores);
      const cont1 = containersCpuMs();
      if (cont0 !== undefined && cont1 !== undefined) inContainers.push((cont1 - cont0) / cores);
      say(`compose: boot ${i + 1}/${composeBoots}: ${Math.round(ms.at(-1)!)} ms; the machine busy ${Math.round(busy.at(-1)!)} ms per core`);
      c("down");
    }
  } finally {
    spawnSync(compose[0], [...compose.slice(1), "down", "-v"], { cwd: PROJECT_ROOT, env });
  }
  // The floor under a compose boot on this machine: the CPU it took, spread over every core.
  return [
    row("compose", ms),
    row(`compose floor: the machine's CPU during the boot / ${cores} cores`, busy),
    ...(inContainers.length > 0 ? [row(`compose floor: the containers' CPU / ${cores} cores`, inContainers)] : []),
  ];
}

const rows = [
  ...floor(),
  processMode("process"),
  // The same boots without Node's compile cache (every part compiles its modules at start): what the cache buys.
  processMode("process, no compile cache", { NODE_DISABLE_COMPILE_CACHE: "1" }),
  ...(composeBoots > 0 ? composeMode() : []),
];
if (values.json) console.log(JSON.stringify({ rows }));
else {
  const w = Math.max(...rows.map((r) => r.mode.length));
  console.log(`mkos boot time, node ${process.version} (p50 and p99 of n boots, each to every part ready)`);
  console.log(`${"mode".padEnd(w)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  n`);
  for (const r of rows) console.log(`${r.mode.padEnd(w)}  ${String(r.p50_ms).padStart(7)}  ${String(r.p99_ms).padStart(7)}  ${r.n}`);
}
