// The dashboard in a real browser: Debian's Chromium driven by playwright-core against a
// real process-mode system booted as a user does, with `mkctl up --demo`, whose last line
// is the dashboard's URL with its token. The demo workload runs from the start; the
// page loads and shows every service; kill on ata from the chaos panel shows the death
// and the next generation on the timeline and in the table; a line typed in the console
// reaches the mkos shell and its output comes back; without the token the chaos panel is
// refused. Screenshots go to .ci/artifacts/ (CI keeps them).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { connectClient, createLogger, loadCredential, type RunningService } from "#libsys";
import { freePort, ProcessSystem } from "../../services/boot/src/index.ts";
import { readyGeneration, testSystemYaml } from "../helpers/system.ts";

const ROOT = join(import.meta.dirname, "../..");
const ARTIFACTS = join(ROOT, ".ci", "artifacts");
let TOKEN = "";
/** rs finds a SIGKILL at once and a Node start takes well under a second; generous for a loaded CI machine. */
const RECOVERY_MS = 20_000;
const CHROMIUM = process.env.MK_CHROMIUM ?? "/usr/bin/chromium";

let dir: string;
let base: string;
let client: RunningService;
/** A fixed port: a restarted dashboard comes back where the page looks for it, as 8080 does. */
let port = 0;
let ctx: BrowserContext;
let profile: string;

const until = <T>(fn: () => Promise<T | undefined>, what: string, ms = 30_000) =>
  waitUntil(fn, { clock: systemClock, deadlineMs: ms, what });

async function open(query: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${base}${query}`);
  await page.getByTestId("stream-status").filter({ hasText: "live" }).waitFor({ timeout: 20_000 });
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "mkos-browser-"));
  port = await freePort();
  writeFileSync(join(dir, "system.yaml"), testSystemYaml({ demo: ["dashboard", "workload", "shell"] }));
  // Booted as a newcomer boots it, with the README's first command (its process mode;
  // the options after --process go on to mkctl up).
  const up = spawnSync(
    "bash",
    [
      join(ROOT, "scripts/demo.sh"),
      "--process",
      "--system",
      join(dir, "system.yaml"),
      "--disk",
      join(dir, "disk.img"),
      "--run-dir",
      join(dir, "run"),
    ],
    {
      encoding: "utf8",
      timeout: 90_000,
      env: { ...process.env, MKOS_DASHBOARD_PORT: String(port) },
    },
  );
  expect(up.status, up.stderr).toBe(0);
  // The interface scripts rely on: the URL alone, with its token, as the last line.
  const last = up.stdout.trimEnd().split("\n").at(-1)!;
  expect(last).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{16,}$/);
  const url = new URL(last);
  TOKEN = url.searchParams.get("token")!;
  base = `${url.origin}/`;
  const log = createLogger("browser-test");
  log.level = "warn";
  client = await connectClient("client", loadCredential(ProcessSystem.attach(join(dir, "run")).credFile("client")), { log });
  profile = mkdtempSync(join(tmpdir(), "mkos-chromium-"));
  // Without these flags Chromium reaches for the network (updates, sync, field trials) and stalls here.
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1600, height: 1200 },
  });
}, 120_000);

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  await client?.stop().catch(() => undefined);
  if (dir) {
    mkctl("down");
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

/** mkctl as a user runs it, on this test's run directory; the dashboard on a free port. */
function mkctl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), ...args, "--run-dir", join(dir, "run")], {
    encoding: "utf8",
    timeout: 90_000,
    env: { ...process.env, MKOS_DASHBOARD_PORT: String(port) },
  });
}

describe("browser", () => {
  it("browser - the page loads in control mode, the topology and the table show every service, and the demo workload runs from the start", async () => {
    const page = await open(`?token=${TOKEN}`);
    await expect.poll(() => page.getByTestId("mode").textContent()).toBe("control");
    const services = ["ata", "tty", "mfs", "procfs", "vfs", "sched", "rs", "workload", "shell", "dashboard"];
    await until(async () => {
      const ids = await page.evaluate(() =>
        (globalThis as unknown as { mkos: { cy: { nodes(): { map(f: (n: { id(): string }) => string): string[] } } } }).mkos.cy
          .nodes()
          .map((n) => n.id()),
      );
      return [...services, "kernel-core", "hardware", "nats"].every((s) => ids.includes(s)) ? true : undefined;
    }, "every service in the topology");
    for (const s of services) {
      await expect
        .poll(() => page.locator(`[data-testid=endpoint-table] [data-label="${s}"] [data-col=state]`).textContent(), { timeout: 20_000 })
        .toBe("ready");
    }
    await expect
      .poll(async () => Number(await page.locator("[data-testid=workload] [data-field=ops]").textContent()), { timeout: 20_000 })
      .toBeGreaterThan(0);
    // The topology reads top to bottom as a request travels: workload, vfs, mfs, ata, kernel-core, hardware.
    const ys = await page.evaluate(
      (ids) => {
        const cy = (globalThis as unknown as { mkos: { cy: { getElementById(i: string): { position(): { y: number } } } } }).mkos.cy;
        return ids.map((i) => cy.getElementById(i).position().y);
      },
      ["workload", "vfs", "mfs", "ata", "kernel-core", "hardware"],
    );
    for (let i = 1; i < ys.length; i++) expect(ys[i], `row ${i}`).toBeGreaterThan(ys[i - 1]);
    // Without hovering, the charts' legends show the latest values, and the latency caption carries its path's numbers.
    await expect
      .poll(async () => (await page.getByTestId("rate-chart").locator(".u-legend .u-series .u-value").allTextContents()).slice(1), {
        timeout: 10_000,
      })
      .toContainEqual(expect.stringMatching(/\d/));
    await expect.poll(() => page.getByTestId("latency-caption").textContent(), { timeout: 10_000 }).toMatch(/busiest path: \S+, p50 /);
    // The token left the address bar (it stays in the tab's session storage).
    expect(page.url()).not.toContain(TOKEN);
    await shot(page, "overview");
    await page.close();
  });

  it("browser - the latency panel shows round trips by IPC path, and a stat picked in it is drawn as a waterfall, vfs's call to mfs nested under the request", async () => {
    const page = await open(`?token=${TOKEN}`);
    await expect
      .poll(() => page.locator(`[data-testid=paths-table] [data-label="reply-direct"] [data-col=count]`).textContent(), { timeout: 20_000 })
      .toMatch(/^[1-9]\d*$/);
    await page.getByTestId("trace").locator("[data-field=target]").fill("/");
    await page.getByTestId("trace").locator("button").click();
    await page.locator(`[data-testid=waterfall] [data-hop="kernel>mfs"]`).waitFor({ timeout: 20_000 });
    const hops = await page.locator("[data-testid=waterfall] .hop").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-hop")));
    expect(hops.slice(0, 2)).toEqual(["dashboard>kernel", "kernel>vfs"]);
    expect(hops).toContain("mfs>vfs");
    await expect
      .poll(() => page.getByTestId("trace").locator("[data-field=caption]").textContent())
      .toMatch(/^stat \/ to vfs#\d+: the median of 5 runs/);
    await shot(page, "waterfall");
    await page.close();
  });

  it("browser - kill on ata from the chaos panel: the death and the next generation appear on the timeline and in the table", async () => {
    const page = await open(`?token=${TOKEN}`);
    const before = await readyGeneration(client, "ata");
    await page.getByTestId("chaos-target").selectOption("ata");
    await page.getByTestId("chaos-fault").selectOption("kill");
    await page.getByTestId("chaos-submit").click();
    await expect.poll(() => page.getByTestId("chaos-message").textContent(), { timeout: 10_000 }).toContain("SIGKILL");
    await page
      .locator(`[data-testid=timeline] [data-kind=dead][data-label=ata][data-generation="${before}"]`)
      .first()
      .waitFor({ timeout: RECOVERY_MS });
    await page.locator(`[data-testid=timeline] [data-kind=recovered][data-label=ata]`).first().waitFor({ timeout: RECOVERY_MS });
    await expect
      .poll(async () => Number(await page.locator(`[data-testid=endpoint-table] [data-label=ata] [data-col=generation]`).textContent()), {
        timeout: RECOVERY_MS,
      })
      .toBeGreaterThan(before);
    await expect
      .poll(() => page.locator(`[data-testid=endpoint-table] [data-label=ata] [data-col=state]`).textContent(), { timeout: RECOVERY_MS })
      .toBe("ready");
    await shot(page, "after-kill");
    await page.close();
  });

  it("browser - a line typed in the console reaches the mkos shell and its output comes back", async () => {
    const page = await open(`?token=${TOKEN}`);
    await page.getByTestId("console").click();
    await until(
      async () =>
        (await page.evaluate(() => (globalThis as unknown as { mkos: { consoleText: string } }).mkos.consoleText)).includes("attached")
          ? true
          : undefined,
      "the console attached",
    );
    await page.keyboard.type("echo marker-from-the-browser");
    await page.keyboard.press("Enter");
    await until(
      async () => {
        const text = await page.evaluate(() => (globalThis as unknown as { mkos: { consoleText: string } }).mkos.consoleText);
        // The shell's output line, not the line echoed while typing.
        return /(^|\n)marker-from-the-browser\r?\n/.test(text) ? true : undefined;
      },
      "the shell's echo in the console",
      20_000,
    );
    await page.keyboard.type("services");
    await page.keyboard.press("Enter");
    await until(
      async () =>
        (await page.evaluate(() => (globalThis as unknown as { mkos: { consoleText: string } }).mkos.consoleText)).match(
          /\bata\b.*\brunning\b/,
        )
          ? true
          : undefined,
      "the shell's services listing ata",
      20_000,
    );
    await shot(page, "console");
    await page.close();
  });

  it("browser - a page left open while the dashboard is killed and restarted by rs reconnects by itself and goes on", async () => {
    const page = await open(`?token=${TOKEN}`);
    const gen = async () =>
      Number(await page.locator(`[data-testid=endpoint-table] [data-label=dashboard] [data-col=generation]`).textContent());
    await expect.poll(gen, { timeout: 10_000 }).toBeGreaterThan(0);
    const before = await gen();
    expect(mkctl("kill", "dashboard").status).toBe(0);
    await expect.poll(gen, { timeout: RECOVERY_MS }).toBeGreaterThan(before);
    await page.getByTestId("stream-status").filter({ hasText: "live" }).waitFor({ timeout: RECOVERY_MS });
    // The token is still the one it had: a restarted dashboard keeps it.
    await expect.poll(() => page.getByTestId("mode").textContent()).toBe("control");
    await page.close();
  });

  it("browser - without the token the page is read-only: every control that would act is disabled, and the server refuses such a request with EACCES", async () => {
    const page = await ctx.newPage();
    await page.goto(base);
    await page.evaluate(() => (globalThis as unknown as { sessionStorage: { clear(): void } }).sessionStorage.clear());
    await page.reload();
    await page.getByTestId("stream-status").filter({ hasText: "live" }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId("mode").textContent()).toBe("read-only");
    for (const id of ["chaos-submit", "hw-submit", "experiment-run", "chaos-target"])
      expect(await page.getByTestId(id).isDisabled(), id).toBe(true);
    expect(await page.locator("[data-testid=workload] button").isDisabled()).toBe(true);
    // The page cannot act, and neither can a request without the token.
    const before = await readyGeneration(client, "ata");
    const r = await page.request.post(`${base}api/chaos`, { data: { target: "ata", fault: "kill" } });
    expect(r.status()).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("EACCES");
    expect(await readyGeneration(client, "ata")).toBe(before);
    await shot(page, "read-only");
    await page.close();
  });

  it("browser - an experiment run from the page: the status line says it started, then how it ended, beside its report", async () => {
    const page = await open(`?token=${TOKEN}`);
    await expect.poll(() => page.getByTestId("experiment-select").locator("option[value=demo]").count(), { timeout: 10_000 }).toBe(1);
    await page.getByTestId("experiment-select").selectOption("demo");
    await page.getByTestId("experiment-run").click();
    const line = page.getByTestId("chaos-message");
    await expect.poll(() => line.getAttribute("data-status"), { timeout: 10_000 }).toBe("ok");
    await expect.poll(() => page.getByTestId("experiment-result").getAttribute("data-status"), { timeout: 60_000 }).toBe("completed");
    // The line no longer says "started": it names the outcome the report below shows.
    await expect.poll(() => line.textContent(), { timeout: 5_000 }).toContain("demo completed");
    await shot(page, "experiment");
    await page.close();
  });

  it("browser - with kernel-core down the page shows what it cannot know as unknown and the workload's counts as stale; both recover when the kernel is back", async () => {
    const page = await open(`?token=${TOKEN}`);
    const sc = (id: string) =>
      page.evaluate(
        (n) =>
          (globalThis as unknown as { mkos: { cy: { getElementById(i: string): { data(k: string): string } } } }).mkos.cy
            .getElementById(n)
            .data("sc"),
        id,
      );
    const stale = () => page.locator("[data-testid=workload] [data-field=stale]").isVisible();
    await expect.poll(() => sc("ata"), { timeout: 10_000 }).toBe("ok");
    expect(await stale()).toBe(false);
    try {
      expect(mkctl("kill", "kernel").status).toBe(0);
      await expect.poll(() => page.getByTestId("kernel").textContent(), { timeout: 15_000 }).toBe("kernel down");
      for (const id of ["ata", "vfs", "mfs", "hardware"]) await expect.poll(() => sc(id), { timeout: 5_000 }).toBe("off");
      await expect.poll(() => page.locator(`[data-testid=endpoint-table] [data-label=ata] [data-col=state]`).textContent()).toBe("unknown");
      await expect.poll(stale, { timeout: 10_000 }).toBe(true);
      await shot(page, "kernel-down");
    } finally {
      expect(mkctl("start", "kernel").status).toBe(0);
    }
    await expect.poll(() => page.getByTestId("kernel").textContent(), { timeout: 20_000 }).toBe("kernel up");
    await expect.poll(() => sc("ata"), { timeout: 15_000 }).toBe("ok");
    await expect.poll(stale, { timeout: 15_000 }).toBe(false);
    await page.close();
  });
});
