// npm run bench:boot [-- --json] [-- --boots N] [-- --compose N] [-- --help]
// How long mkos takes to boot, as a user starts it: `mkctl up` from the command to every
// service ready (process mode), and `docker compose up -d` from the command to every
// container healthy (compose). Each mode boots once first, not counted (the dashboard's
// page built, the disk formatted, the image built), then N times on the same disk, each
// followed by a full stop. Beside them, in the same run, the floor: `node -e 0` (one bare
// Node start) and the same Node start loading the kernel's modules without running them,
// and process mode again without Node's compile cache (what the cache buys).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
healthy. The floor rows: one bare Node start, and one that imports the kernel's modules.`;

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

/** Until every long-running container of the project is healthy (or running, without a healthcheck). */
function waitHealthy(compose: string[], deadlineMs: number): void {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const ids = execFileSync(compose[0], [...compose.slice(1), "ps", "-q"], { cwd: PROJECT_ROOT, encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    const states = ids.map((id) =>
      execFileSync(
        "docker",
        [
          "inspect",
          "--format",
          "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}",
          id,
        ],
        { encoding: "utf8" },
      ).trim(),
    );
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

function composeMode(): Row {
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
  try {
    say("compose: a first boot (not counted: the image built) ...");
    c("up", "-d", "--build");
    waitHealthy(compose, 300_000);
    c("down");
    for (let i = 0; i < composeBoots; i++) {
      ms.push(
        timed(() => {
          c("up", "-d");
          waitHealthy(compose, 300_000);
        }),
      );
      say(`compose: boot ${i + 1}/${composeBoots}: ${Math.round(ms.at(-1)!)} ms`);
      c("down");
    }
  } finally {
    spawnSync(compose[0], [...compose.slice(1), "down", "-v"], { cwd: PROJECT_ROOT, env });
  }
  return row("compose", ms);
}

const rows = [
  ...floor(),
  processMode("process"),
  // The same boots without Node's compile cache (every part compiles its modules at start): what the cache buys.
  processMode("process, no compile cache", { NODE_DISABLE_COMPILE_CACHE: "1" }),
  ...(composeBoots > 0 ? [composeMode()] : []),
];
if (values.json) console.log(JSON.stringify({ rows }));
else {
  const w = Math.max(...rows.map((r) => r.mode.length));
  console.log(`mkos boot time, node ${process.version} (p50 and p99 of n boots, each to every part ready)`);
  console.log(`${"mode".padEnd(w)}  ${"p50 ms".padStart(7)}  ${"p99 ms".padStart(7)}  n`);
  for (const r of rows) console.log(`${r.mode.padEnd(w)}  ${String(r.p50_ms).padStart(7)}  ${String(r.p99_ms).padStart(7)}  ${r.n}`);
}
