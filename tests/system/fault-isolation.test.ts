// Fault isolation, by hand: the ATA driver is SIGKILLed in the middle of an 8 MiB write;
// the test starts the next incarnation itself (no reincarnation server yet). The client
// sees EDEADSRCDST, waits for the new generation and resends; every byte reads back;
// kernel-core and the hardware emulator never restarted.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BdevClient, sysGetEndpoints } from "#libsys";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { bootTestSystem, pattern, type TestSystem } from "../helpers/system.ts";

const TOTAL_SECTORS = (8 * 1024 * 1024) / 512;
const CHUNK = 128; // 64 KiB per request
const BASE = 1000;

let ts: TestSystem;
beforeAll(async () => {
  // 8 MiB from sector 1000 stays in the raw area (the first half) of a 32 MiB disk.
  ts = await bootTestSystem({ sectors: 65536 });
});
afterAll(async () => {
  await ts?.down();
});

describe("fault isolation", () => {
  it("fault isolation - driver SIGKILLed mid-write, restarted by rs: 8 MiB verified, kernel and emulator untouched", async () => {
    const c = await ts.client();
    // What a test before this one may have left: ata's generation, restarts and deaths so far.
    const gen = (await sysGetEndpoints(c.sys)).find((e) => e.label === "ata")!.generation;
    const restarts = (await ts.sys.services()).find((r) => r.label === "ata")!.restarts;
    const deathsBefore = await ataDeaths();
    const kernelPid = ts.sys.pids().kernel;
    const hwPid = ts.sys.pids().hardware;
    const retries: { deadGeneration: number; newGeneration: number }[] = [];
    const disk = new BdevClient(c.sys, "ata", { onRetry: (r) => retries.push(r) });
    await disk.openMinor(0);

    let written = 0;
    let killedAt = -1;
    const killedPid = ts.sys.pids().ata;
    for (let s = 0; s < TOTAL_SECTORS; s += CHUNK) {
      const write = disk.write(BASE + s, pattern(BASE + s, CHUNK));
      if (s === CHUNK * 20) {
        // Crash the driver while a request is in flight; rs brings up a new incarnation.
        ts.sys.kill("ata", "SIGKILL");
        killedAt = s;
      }
      await write;
      written += CHUNK;
    }
    await disk.flush();
    expect(written).toBe(TOTAL_SECTORS);
    expect(killedAt).toBeGreaterThan(0);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ deadGeneration: gen, newGeneration: gen + 1 });

    let bytes = 0;
    for (let s = 0; s < TOTAL_SECTORS; s += 256) {
      const got = await disk.read(BASE + s, 256);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(pattern(BASE + s, 256)))).toBe(0);
      bytes += got.length;
    }
    expect(bytes).toBe(8 * 1024 * 1024);

    const eps = await sysGetEndpoints(c.sys);
    expect(eps.find((e) => e.label === "ata")).toMatchObject({ endpoint: `ata#${gen + 1}`, state: "ready" });
    expect(ts.sys.pids().ata).not.toBe(killedPid);
    expect(ts.sys.pids().kernel).toBe(kernelPid);
    expect(ts.sys.pids().hardware).toBe(hwPid);
    expect(ts.sys.alive()).toMatchObject({ kernel: true, hardware: true, nats: true, ata: true });
    // The new incarnation ran its restart callback, told which generation it replaces.
    const ataLog = readFileSync(join(ts.sys.state.runDir, "logs", "ata.log"), "utf8");
    expect(ataLog).toMatch(
      new RegExp(`"endpoint":"ata#${gen + 1}".*"previous":${gen}.*"msg":"restart: previous incarnation was ata#${gen}"`),
    );
    // One death, noticed as a lost connection (not a clean exit or a supersede).
    expect(await ataDeaths()).toEqual({ total: deathsBefore.total + 1, noticed: deathsBefore.noticed + 1 });
    // rs saw the crash at once (the child's exit) and measured the recovery.
    const ata = (await ts.sys.services()).find((r) => r.label === "ata");
    expect(ata).toMatchObject({ state: "running", restarts: restarts + 1, generation: gen + 1, last_cause: "signal SIGKILL" });
    expect(ata!.detect_ms).toBeLessThan(50);
    expect(ata!.recover_ms).toBeGreaterThan(0);
  });

  it("ipc - a request to the dead generation answers EDEADSRCDST, not a timeout", async () => {
    const c = await ts.client();
    // With no incarnation running at all, the current generation is dead at once.
    const gen = (await sysGetEndpoints(c.sys)).find((e) => e.label === "ata")!.generation;
    ts.sys.kill("ata", "SIGKILL");
    const started = Date.now();
    // Each try is answered (never a timeout); once the kernel knows of the death, with EDEADSRCDST.
    const err = await waitUntil(
      () =>
        c.sys.sendrec(`ata#${gen}`, 0x509, { minor: 0 }, undefined, 20_000).then(
          () => undefined,
          (e: unknown) => e,
        ),
      { clock: systemClock, deadlineMs: 5000, intervalMs: 20, what: "the kernel answering for the killed ata" },
    );
    expect(err).toMatchObject({ errno: "EDEADSRCDST" });
    expect(Date.now() - started).toBeLessThan(20_000);
    // rs restarts it by itself.
    await ts.sys.waitAllReady(30_000, { ata: gen }, ["ata"]);
    // And once the next one serves, the old generation stays stale: never the new process.
    await expect(c.sys.sendrec(`ata#${gen}`, 0x509, { minor: 0 }, undefined, 20_000)).rejects.toMatchObject({ errno: "EDEADSRCDST" });
  });
});

/** kernel-core's count of ata's deaths by disconnect (its /metrics). */
/**
 * ata's deaths the kernel counted, by how it noticed them: a SIGKILLed process is seen by
 * NATS's disconnect advisory or, when a request reaches the dead subject first (mid-write),
 * by no-subscriber; which comes first depends on the machine's load.
 */
async function ataDeaths(): Promise<{ total: number; noticed: number }> {
  const text = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
  const count = (cause: string) =>
    Number(new RegExp(`mk_endpoint_deaths_total\\{label="ata",cause="${cause}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  const noticed = count("disconnect") + count("no-subscriber");
  return { total: noticed + count("exit") + count("superseded"), noticed };
}
