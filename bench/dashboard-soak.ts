// The dashboard left open: a real process-mode system with the demo's services, the page
// in Debian's Chromium, a kill of ata every --kill-every S seconds (default 10: the
// timeline, the table and the charts keep changing, and the timeline reaches its cap of
// 500 entries within the first half hour), for --minutes N (default 10). Every minute it samples the page's
// JavaScript heap (after a garbage collection), its DOM node count and the dashboard
// process's resident memory, and prints a table and the ratios of the last sample to the
// first: flat memory is a ratio near 1.
//   npm run bench:dashboard [-- --minutes N] [-- --kill-every S] [-- --json]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { DEMO_SERVICES, deriveSystemYaml, ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "kill-every": { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const minutes = Number(values.minutes);
const killEvery = Number(values["kill-every"]);
if (
  !Number.isInteger(minutes) ||
  minutes < 1 ||
  minutes > 240 ||
  !Number.isInteger(killEvery) ||
  killEvery < 5 ||
  killEvery > 60 ||
  60 % killEvery !== 0
) {
  console.error("bench:dashboard: --minutes takes 1-240, --kill-every 5-60 seconds dividing a minute");
  process.exit(64);
}
const TOKEN = "soak-token-0123456789abcdef";
// Ctrl-C ends the soak early, with the system, the browser and their folders cleaned up.
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => (stopping = true));
const say = (s: string) => !values.json && console.log(s);

const dir = mkdtempSync(join(tmpdir(), "mkos-soak-"));
const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
writeFileSync(
  join(dir, "system.yaml"),
  deriveSystemYaml(shipped, { httpPort: 0, sectors: 32768, unstarted: DEMO_SERVICES.filter((l) => l === "shell") }),
);
const sys = await ProcessSystem.up({
  system: join(dir, "system.yaml"),
  runDir: join(dir, "run"),
  disk: join(dir, "disk.img"),
  env: { MK_LOG_LEVEL: "warn", MKOS_DASHBOARD_PORT: "0", MK_DASHBOARD_TOKEN: TOKEN, MK_WORKLOAD_RATE: "10" },
});
const profile = mkdtempSync(join(tmpdir(), "mkos-soak-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.MK_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--js-flags=--expose-gc",
  ],
  viewport: { width: 1500, height: 1200 },
});
const rows: { minute: number; heap_mb: number; dom_nodes: number; timeline: number; dashboard_rss_mb: number; kills: number }[] = [];
try {
  let base: string | undefined;
  for (let i = 0; i < 300 && !base; i++) {
    try {
      base = (JSON.parse(readFileSync(join(dir, "run", "dashboard.json"), "utf8")) as { base: string }).base;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!base) throw new Error("the dashboard did not start");
  const page = await ctx.newPage();
  await page.goto(`${base}?token=${TOKEN}`);
  await page.getByTestId("stream-status").filter({ hasText: "live" }).waitFor({ timeout: 30_000 });
  const cdp = await ctx.newCDPSession(page);
  let kills = 0;
  const sample = async (minute: number) => {
    await page.evaluate(() => (globalThis as unknown as { gc?: () => void }).gc?.());
    const m = await cdp.send("Performance.getMetrics");
    const metric = (n: string) => m.metrics.find((x) => x.name === n)?.value ?? 0;
    const timeline = await page.locator("[data-testid=timeline] [data-kind]").count();
    const pid = (JSON.parse(readFileSync(join(dir, "run", "dashboard.json"), "utf8")) as { pid?: number }).pid;
    const rss = pid ? Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024 : 0;
    rows.push({
      minute,
      heap_mb: Math.round((metric("JSHeapUsedSize") / 1048576) * 10) / 10,
      dom_nodes: metric("Nodes"),
      timeline,
      dashboard_rss_mb: Math.round(rss),
      kills,
    });
    const r = rows.at(-1)!;
    say(
      `${String(minute).padStart(6)}  ${String(r.heap_mb).padStart(8)}  ${String(r.dom_nodes).padStart(9)}  ${String(r.timeline).padStart(8)}  ${String(r.dashboard_rss_mb).padStart(8)}  ${String(kills).padStart(5)}`,
    );
  };
  await cdp.send("Performance.enable");
  say(`the dashboard open for ${minutes} min against a real system (workload 10/s, ata killed every ${killEvery} s)`);
  say("minute   heap MB  DOM nodes  timeline  dash MB  kills");
  await sample(0);
  for (let minute = 1; minute <= minutes && !stopping; minute++) {
    for (let k = 0; k < 60 / killEvery && !stopping; k++) {
      await new Promise((r) => setTimeout(r, killEvery * 1000));
      await page.request
        .post(`${base}api/chaos`, { headers: { authorization: `Bearer ${TOKEN}` }, data: { target: "ata", fault: "kill" } })
        .catch(() => undefined);
      kills++;
    }
    await sample(minute);
  }
  const first = rows[1] ?? rows[0];
  const last = rows.at(-1)!;
  const ratio = (a: number, b: number) => (a > 0 ? Math.round((b / a) * 100) / 100 : null);
  const result = {
    minutes,
    rows,
    ratios: {
      heap: ratio(first.heap_mb, last.heap_mb),
      dom_nodes: ratio(first.dom_nodes, last.dom_nodes),
      dashboard_rss: ratio(first.dashboard_rss_mb, last.dashboard_rss_mb),
    },
  };
  if (values.json) console.log(JSON.stringify(result));
  else
    say(
      `last / minute 1: heap ${result.ratios.heap}x, DOM nodes ${result.ratios.dom_nodes}x, dashboard RSS ${result.ratios.dashboard_rss}x`,
    );
} finally {
  await ctx.close().catch(() => undefined);
  await sys.down().catch(() => undefined);
  rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
