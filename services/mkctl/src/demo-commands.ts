// mkctl console and mkctl workload: the host's side of the serial line, and the demo
// workload's rate; and what mkctl up does for the dashboard (its page built, its URL).
//   mkctl console   a terminal on the UART (the mkos shell reads it through tty). On a
//                   terminal: raw mode, typed characters echoed and a line edited here
//                   (the tty driver is canonical and does not echo), Ctrl-] leaves. From a
//                   pipe: bytes pass through; after the input ends it waits until the
//                   output has been quiet for --quiet MS (default 1000), at most 30 s.
//   mkctl workload [rate N]   the demo workload's counts, or a new rate (0-200 per second)
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseReplyArgs, Workload, WORKLOAD_MAX_RATE } from "#abi";
import { attachConsole, type RunningService } from "#libsys";
import { LocalError } from "#base/errors.ts";
import { loadSystemTable } from "#base/system-table.ts";
import { PROJECT_ROOT } from "#boot";

export const DEMO_USAGE = `       mkctl console [--quiet MS] [--run-dir DIR]   (a terminal on the serial console; Ctrl-] leaves)
       mkctl workload [rate N] [--json] [--run-dir DIR]   (the demo workload: its counts, or N operations/s, 0-${WORKLOAD_MAX_RATE})`;

const CTRL_RIGHT_BRACKET = 0x1d;
const MAX_LINE = 4096;

export async function consoleCommand(client: RunningService, o: { quietMs?: string }): Promise<void> {
  const quietMs = o.quietMs === undefined ? 1000 : Number(o.quietMs);
  if (!Number.isInteger(quietMs) || quietMs < 0 || quietMs > 30_000)
    throw new LocalError("MK_ERR_USAGE", `mkctl console --quiet needs 0-30000 ms, got ${JSON.stringify(o.quietMs)}`);
  let lastOutput = Date.now();
  const line = await attachConsole(client.sys, (bytes) => {
    lastOutput = Date.now();
    process.stdout.write(bytes);
  });
  try {
    if (process.stdin.isTTY) await interactive(line.write);
    else await piped(line.write, () => lastOutput, quietMs);
  } finally {
    line.stop();
  }
}

/** A terminal: raw mode, a line edited and echoed here, sent whole on Enter. */
async function interactive(write: (b: Uint8Array) => void): Promise<void> {
  process.stderr.write("mkos console: Ctrl-] leaves\r\n");
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  // However mkctl ends, the terminal is given back in its cooked mode.
  const restore = () => stdin.isTTY && stdin.setRawMode(false);
  process.once("exit", restore);
  let buf: number[] = [];
  try {
    await new Promise<void>((resolve) => {
      for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.once(sig, () => resolve());
      stdin.on("data", (chunk: Buffer) => {
        for (const b of chunk) {
          if (b === CTRL_RIGHT_BRACKET || b === 0x04) return resolve(); // Ctrl-] or Ctrl-D
          if (b === 0x03) {
            // Ctrl-C: drop the line, as a shell does
            buf = [];
            process.stdout.write("^C\r\n");
          } else if (b === 0x0d || b === 0x0a) {
            process.stdout.write("\r\n");
            write(Uint8Array.from([...buf, 0x0a]));
            buf = [];
          } else if (b === 0x7f || b === 0x08) {
            if (buf.length > 0) {
              buf.pop();
              process.stdout.write("\b \b");
            }
          } else if (b >= 0x20 && buf.length < MAX_LINE) {
            buf.push(b);
            process.stdout.write(Uint8Array.of(b));
          }
        }
      });
      stdin.once("end", () => resolve());
    });
  } finally {
    restore();
    stdin.pause();
    process.stderr.write("\r\nmkos console: left\n");
  }
}

/** Not a terminal: pass the input through, then wait for the output to settle. */
async function piped(write: (b: Uint8Array) => void, lastOutput: () => number, quietMs: number): Promise<void> {
  for await (const chunk of process.stdin) write(chunk as Buffer);
  const until = Date.now() + 30_000;
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const check = () => {
      const now = Date.now();
      if (now >= until || now - Math.max(lastOutput(), started) >= quietMs) return resolve();
      setTimeout(check, 50).unref();
    };
    check();
  });
}

export async function workloadCommand(client: RunningService, args: string[], json: boolean): Promise<void> {
  if (args[0] === "rate") {
    const n = Number(args[1]);
    if (args.length !== 2 || !/^[0-9]+$/.test(args[1]) || n > WORKLOAD_MAX_RATE)
      throw new LocalError(
        "MK_ERR_USAGE",
        `mkctl workload rate needs N, 0-${WORKLOAD_MAX_RATE} operations per second, got ${JSON.stringify(args.slice(1).join(" "))}`,
      );
    const r = await client.sys.sendrec("workload", Workload.WORKLOAD_SET, { rate: n }, undefined, 5000);
    const rate = r.args.rate;
    console.log(
      json ? JSON.stringify({ rate }) : rate === 0 ? "workload idle (rate 0): it sends no message" : `workload rate ${rate} operations/s`,
    );
    return;
  }
  if (args.length > 0)
    throw new LocalError("MK_ERR_USAGE", `mkctl workload takes no argument or rate N, got ${JSON.stringify(args.join(" "))}`);
  const s = parseReplyArgs(
    Workload.WORKLOAD_STATS,
    (await client.sys.sendrec("workload", Workload.WORKLOAD_STATS, {}, undefined, 5000)).args,
  );
  if (json) {
    console.log(JSON.stringify(s));
    return;
  }
  console.log(
    `rate ${s.rate}/s  operations ${s.ops}  failed ${s.failed}  retried ${s.retried}  written ${s.bytes_written} B  verified ${s.bytes_verified} B  wrong ${s.bytes_wrong} B${(s.paused_ms ?? 0) > 0 ? `  paused ${Math.ceil(s.paused_ms! / 1000)} s more (WORKLOAD_PAUSE: an experiment)` : ""}${s.last_error ? `\nlast error: ${s.last_error}` : ""}`,
  );
}

/**
 * `npm ci` installs Vite but builds nothing: before the first `mkctl up` with the dashboard
 * in the table, its page is built (about a second), or the reason it cannot be is named.
 */
export function buildPageIfMissing(system: string | undefined): void {
  const table = loadSystemTable(system ?? join(PROJECT_ROOT, "etc", "system.yaml"));
  if (!table.services.get("dashboard")?.command || existsSync(join(PROJECT_ROOT, "services/dashboard/web/dist/index.html"))) return;
  const vite = join(PROJECT_ROOT, "node_modules/vite/bin/vite.js");
  if (!existsSync(vite))
    throw new LocalError(
      "MK_ERR_BAD_ENV",
      "the dashboard's page is not built and Vite is not installed: npm ci (with the dev dependencies), then npm run build:dashboard",
    );
  console.error("mkctl: building the dashboard's page (once; npm run build:dashboard does it again)");
  const r = spawnSync(
    process.execPath,
    [vite, "build", "--config", join(PROJECT_ROOT, "services/dashboard/web/vite.config.ts"), "--logLevel", "warn"],
    { cwd: PROJECT_ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 120_000 },
  );
  if (r.status !== 0)
    throw new LocalError("MK_ERR_BAD_ENV", "building the dashboard's page failed (see above): npm run build:dashboard shows why");
}

/** The URL the dashboard wrote once it listened (run directory's dashboard.json), waited for up to 15 s. */
export async function dashboardUrl(runDir: string, since: number): Promise<string | undefined> {
  const file = join(runDir, "dashboard.json");
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    try {
      // Written by this run's dashboard, not left by an earlier one.
      const d =
        statSync(file).mtimeMs >= since
          ? (JSON.parse(readFileSync(file, "utf8")) as { url?: unknown; port?: unknown; wanted?: unknown })
          : undefined;
      if (typeof d?.url === "string") {
        if (typeof d.wanted === "number" && d.wanted !== 0 && d.port !== d.wanted)
          console.log(`port ${d.wanted} is in use: the dashboard listens on ${d.port} (MKOS_DASHBOARD_PORT chooses)`);
        return d.url;
      }
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(`mkctl: the dashboard did not say where it listens (${file}); see ${join(runDir, "logs", "dashboard.log")}`);
  return undefined;
}
