// rs against real processes, real NATS and the real kernel: a hang (SIGSTOP) found by
// heartbeat and repaired, a stop by hand left alone, a crash loop stopped by the
// intensity limit, a command that cannot run failed with its reason while the rest runs,
// and rs itself killed and started again without disturbing the services it runs.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bdev, type ServiceStatus } from "#abi";
import { BdevClient, followRsEvents } from "#libsys";
import type { RsEvent } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { pidAlive } from "../../services/boot/src/boot.ts";
import { bootTestSystem, pattern, ROOT, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let atBoot: ServiceStatus[];
const HEARTBEAT_MS = 500;

beforeAll(async () => {
  ts = await bootTestSystem({
    env: { MK_CRASH_ON: "ata:BDEV_CLOSE" }, // a close crashes ata: the crash loop below
    services: `
  ghost:
    command: [/nonexistent/bin/ghostd]
`,
    // A quicker heartbeat and a warm standby for tty, a tight intensity for ata (the crash loop).
    restart: {
      tty: { heartbeat_ms: HEARTBEAT_MS, backoff_min_ms: 50, backoff_max_ms: 1000, intensity: { restarts: 10, seconds: 1 }, standby: true },
      ata: { heartbeat_ms: 1000, backoff_min_ms: 100, backoff_max_ms: 5000, intensity: { restarts: 3, seconds: 30 } },
    },
  });
  atBoot = await ts.sys.services();
});
afterAll(async () => {
  await ts?.down();
});

const row = async (label: string) => (await ts.sys.services()).find((r) => r.label === label)!;
const mkctl = (...args: string[]) =>
  spawnSync(join(ROOT, "services/mkctl/bin/mkctl"), [...args, "--run-dir", ts.sys.state.runDir], { encoding: "utf8", timeout: 60_000 });

describe("rs", () => {
  it("rs - a command that cannot run is failed with its reason; mkctl up reported it and everything else runs", async () => {
    expect(ts.sys.failed).toEqual([
      expect.objectContaining({
        label: "ghost",
        state: "failed",
        last_cause: expect.stringMatching(/^cannot start: ghost: cannot run \/nonexistent\/bin\/ghostd/),
      }),
    ]);
    // As rs reported them right after the boot (a test before this one may have restarted them since).
    expect(atBoot.find((r) => r.label === "ata")).toMatchObject({ state: "running", restarts: 0 });
    expect(atBoot.find((r) => r.label === "tty")).toMatchObject({ state: "running", restarts: 0 });
    expect(await row("ata")).toMatchObject({ state: "running" });
    expect(await row("tty")).toMatchObject({ state: "running" });
  });

  it("rs - a hung driver (SIGSTOP) is found by heartbeat within two periods, killed and restarted; mkctl services --json shows it", async () => {
    const before = await row("tty");
    ts.sys.kill("tty", "SIGSTOP");
    const stopped = Date.now();
    const after = await waitUntil(
      async () => {
        const r = await row("tty");
        return r.state === "running" && r.generation! > before.generation! ? r : undefined;
      },
      { clock: systemClock, deadlineMs: 15_000, what: "tty restarted after its hang" },
    );
    expect(pidAlive(before.pid!)).toBe(false);
    expect(after).toMatchObject({ restarts: before.restarts + 1, last_cause: expect.stringMatching(/^heartbeat/) });
    // Detected within two heartbeat periods of its last answer (plus the tick, a quarter period).
    expect(after.detect_ms).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
    expect(after.detect_ms).toBeLessThanOrEqual(2 * HEARTBEAT_MS + HEARTBEAT_MS / 4 + 100);
    console.log(
      `hang: SIGSTOP to serving again in ${Date.now() - stopped} ms (detect ${after.detect_ms} ms from the last answer, recover ${after.recover_ms} ms)`,
    );
    const out = mkctl("services", "--json");
    expect(out.status).toBe(0);
    const json = JSON.parse(out.stdout) as Record<string, unknown>[];
    expect(json.find((r) => r.label === "tty")).toEqual({
      label: "tty",
      generation: after.generation,
      state: "running",
      restarts: after.restarts,
      last_cause: after.last_cause,
      detect_ms: after.detect_ms,
      recover_ms: after.recover_ms,
      // Over every recovery of tty's: this one alone when it is the first.
      recover_p50_ms: before.restarts === 0 ? after.recover_ms : expect.any(Number),
      recover_p99_ms: before.restarts === 0 ? after.recover_ms : expect.any(Number),
      pid: after.pid,
      misses_excused: after.misses_excused,
    });
  });

  it("rs - a crash and a hang of ata under a read and write loop fail no user operation: the block client waits for the next generation and resends", async () => {
    const c = await ts.client("client2");
    const disk = new BdevClient(c.sys, "ata");
    await disk.openMinor(0);
    const o = { stop: false, ok: 0, failed: [] as string[] };
    const loop = (async () => {
      for (let i = 0; !o.stop; i++) {
        const lba = 2048 + (i % 64) * 8;
        try {
          await disk.write(lba, pattern(lba, 8, 3));
          const got = await disk.read(lba, 8);
          if (Buffer.compare(Buffer.from(got), Buffer.from(pattern(lba, 8, 3))) !== 0) o.failed.push(`lba ${lba} read back wrong`);
          o.ok++;
        } catch (e) {
          o.failed.push((e as { errno?: string }).errno ?? String(e));
          await new Promise((r) => setTimeout(r, 20)); // a failing loop must not starve the event loop
        }
      }
    })();
    const progress = async (n: number) => {
      const want = o.ok + n;
      await waitUntil(() => (o.ok >= want ? true : undefined), {
        clock: systemClock,
        deadlineMs: 20_000,
        what: `${n} more verified writes`,
      });
    };
    let gen = 0;
    try {
      await progress(5);
      gen = (await row("ata")).generation!;
      ts.sys.kill("ata", "SIGKILL");
      await progress(5);
      ts.sys.kill("ata", "SIGSTOP");
      await progress(5);
    } finally {
      o.stop = true;
      await loop;
    }
    expect(o.failed).toEqual([]);
    expect((await row("ata")).generation).toBe(gen + 2);
    await c.stop();
  });

  it("rs - tty with a warm standby: a crash after a healthy spell is a hand-over, serving again in well under a Node start", async () => {
    await waitUntil(() => (ts.sys.alive()["tty.standby"] ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "tty's standby running",
    });
    const standbyPid = ts.sys.pidOf("tty.standby")!;
    // The standby is loaded and connected when it says so; the hand-over is for the first
    // restart after a healthy spell: tty ready for a whole intensity window (1 s here).
    const standbyLog = join(ts.sys.state.runDir, "logs", "tty.standby.log");
    await waitUntil(
      () =>
        existsSync(standbyLog) &&
        readFileSync(standbyLog, "utf8").includes(`"pid":${standbyPid},`) &&
        readFileSync(standbyLog, "utf8").includes("waiting for rs to hand over")
          ? true
          : undefined,
      { clock: systemClock, deadlineMs: 10_000, what: "tty's standby loaded" },
    );
    await waitUntil(
      async () => {
        const tty = (await ts.sys.endpoints()).find((e) => e.label === "tty");
        return tty?.state === "ready" && Date.now() - Date.parse(tty.since) > 1100 ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, intervalMs: 100, what: "tty serving for a whole intensity window" },
    );
    const before = await row("tty");
    ts.sys.kill("tty", "SIGKILL");
    const after = await waitUntil(
      async () => {
        const r = await row("tty");
        return r.state === "running" && r.generation! > before.generation! ? r : undefined;
      },
      { clock: systemClock, deadlineMs: 10_000, what: "tty serving again" },
    );
    expect(after.pid).toBe(standbyPid); // the standby took over: no new process was started for it
    expect(after.recover_ms).toBeLessThan(150);
    console.log(`standby: tty serving again ${after.recover_ms} ms after its death was seen`);
  });

  it("rs - a stop by hand is not restarted; start brings it back with the next generation", async () => {
    const before = await row("tty");
    expect(mkctl("stop", "tty").status).toBe(0);
    expect(pidAlive(before.pid!)).toBe(false);
    await new Promise((r) => setTimeout(r, 1500)); // longer than any backoff: what is checked is that nothing happens
    expect(await row("tty")).toMatchObject({ state: "stopped", restarts: before.restarts });
    const started = mkctl("start", "tty");
    expect(started.status).toBe(0);
    expect(started.stdout).toMatch(new RegExp(`^tty: started pid \\d+ as tty#${before.generation! + 1}`));
  });

  it("rs - a crash loop past the intensity (3 restarts in 30 s) is failed and left down; mkctl restart clears it", async () => {
    const c = await ts.client();
    const rsEvents: RsEvent[] = [];
    const follower = await followRsEvents(c.sys, (ev) => void rsEvents.push(ev));
    const before = await row("ata");
    // Crash ata again and again (a close crashes it) until rs gives up: at most 3 restarts
    // in the window (fewer if this file's earlier tests already restarted it).
    for (let i = 0; i < 6 && (await row("ata")).state !== "failed"; i++) {
      await ts.sys.waitAllReady(30_000, {}, ["ata"]);
      if ((await row("ata")).state === "failed") break;
      await expect(c.sys.sendrec("ata", Bdev.BDEV_CLOSE, { minor: 0 })).rejects.toMatchObject({ errno: "EDEADSRCDST" });
      await waitUntil(async () => ((await row("ata")).state !== "running" ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        what: "rs to see the crash",
      });
    }
    const failed = await waitUntil(
      async () => {
        const r = await row("ata");
        return r.state === "failed" ? r : undefined;
      },
      { clock: systemClock, deadlineMs: 5000, what: "ata failed" },
    );
    expect(failed).toMatchObject({ last_cause: "exit 70 (crash: an error no handler caught)" });
    expect(failed.restarts - before.restarts).toBeGreaterThanOrEqual(1);
    expect(failed.restarts - before.restarts).toBeLessThanOrEqual(3);
    // rs said so on its event stream: a backoff per restart, then failed with the cause.
    await waitUntil(() => (rsEvents.some((e) => e.state === "failed") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "rs's failed event",
    });
    expect(rsEvents.filter((e) => e.label === "ata" && e.state === "backoff").length).toBeGreaterThanOrEqual(1);
    expect(rsEvents.find((e) => e.state === "failed")).toMatchObject({
      label: "ata",
      last_cause: "exit 70 (crash: an error no handler caught)",
      why: expect.stringMatching(/restarts within 30 s/),
    });
    const seqs = rsEvents.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i)); // no gaps
    follower.stop();
    await new Promise((r) => setTimeout(r, 1000)); // nothing restarts it
    expect((await row("ata")).state).toBe("failed");
    expect(mkctl("restart", "ata").status).toBe(0);
    await waitUntil(async () => ((await row("ata")).state === "running" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: "ata running again",
    });
  });

  it("rs - rs stopped for 3 s (SIGSTOP, then SIGCONT) kills nothing when it wakes: the pings out during its stall are no evidence", async () => {
    const running = (await ts.sys.services()).filter((r) => r.state === "running");
    expect(running.map((r) => r.label)).toContain("tty");
    ts.sys.kill("rs", "SIGSTOP");
    try {
      await new Promise((r) => setTimeout(r, 3000)); // the fault: rs stalled for 3 s
    } finally {
      ts.sys.kill("rs", "SIGCONT");
    }
    // rs woke with every ping's deadline past: before, it killed every service at once.
    // Two periods of the slowest heartbeat after: nothing was killed or restarted.
    await new Promise((r) => setTimeout(r, 2000));
    const after = await ts.sys.services();
    for (const r of running)
      expect(
        after.find((x) => x.label === r.label),
        r.label,
      ).toMatchObject({ state: "running", pid: r.pid, generation: r.generation, restarts: r.restarts });
  });

  it("rs - rs itself killed: its keeper starts it again, the services run on untouched and the new rs adopts them (same pids and generations)", async () => {
    const before = await ts.sys.services();
    const rsPid = ts.sys.pidOf("rs")!;
    ts.sys.kill("rs", "SIGKILL");
    await waitUntil(() => (pidAlive(rsPid) ? undefined : true), { clock: systemClock, deadlineMs: 5000, what: "rs gone" });
    for (const r of before.filter((x) => x.pid)) expect(pidAlive(r.pid!), r.label).toBe(true);
    // Nobody asked: rs's keeper starts it again.
    const after = await waitUntil(
      async () => {
        const pid = ts.sys.pidOf("rs");
        return pid && pid !== rsPid ? ts.sys.services().catch(() => undefined) : undefined;
      },
      { clock: systemClock, deadlineMs: 15_000, what: "a new rs, started by its keeper, answering" },
    );
    for (const r of before.filter((x) => x.state === "running")) {
      expect(
        after.find((x) => x.label === r.label),
        r.label,
      ).toMatchObject({ state: "running", pid: r.pid, generation: r.generation });
    }
    // mkctl start rs on a healthy rs is a hand-over: the old one leaves the services running.
    expect(mkctl("start", "rs").status).toBe(0);
    const handed = await waitUntil(() => ts.sys.services().catch(() => undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: "the third rs answering",
    });
    for (const r of after.filter((x) => x.state === "running"))
      expect(
        handed.find((x) => x.label === r.label),
        r.label,
      ).toMatchObject({ state: "running", pid: r.pid, generation: r.generation });
    // The adopted services are still supervised: a crash is repaired by the new rs.
    const tty = after.find((x) => x.label === "tty")!;
    ts.sys.kill("tty", "SIGKILL");
    await waitUntil(
      async () => {
        const r = await row("tty");
        return r.state === "running" && r.generation! > tty.generation! ? r : undefined;
      },
      { clock: systemClock, deadlineMs: 15_000, what: "tty restarted by the new rs" },
    );
  });
});
