// mkos under Docker Compose: the stack boots to healthy, data goes through the ATA driver
// from the host, drivers are crashed and stopped under a running workload, credentials
// are private to their container, and the disk survives `down` and `up`.
// Restarts: rs, through the Docker Engine API, for a process that dies in its container,
// for `docker kill` and for a hang (SIGSTOP); a `docker stop` is a stop by hand that rs
// leaves alone, and after a `docker start` rs supervises the container again.
import { execFileSync, spawnSync } from "node:child_process";
import { DockerComposeEnvironment, Wait, type StartedDockerComposeEnvironment, type WaitStrategy } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cdev } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { BdevClient, FsClient, sysGetEndpoints, sysGetProcesses, type RunningService } from "#libsys";
import { readProcStat } from "../../kernel-core/src/sched/process-control.ts";
import { FileWorkload } from "../../services/workload/src/index.ts";
import { detectCompose } from "../../services/boot/src/compose.ts";
import { freePort } from "../../services/boot/src/ports.ts";
import { pattern } from "../helpers/system.ts";
import { join } from "node:path";
import { loadExperiment } from "../../services/chaos/src/experiment.ts";
import { composeTarget } from "../../services/chaos/src/compose-target.ts";
import { runExperiment, summary } from "../../services/chaos/src/index.ts";
import { loadSystemTable } from "#base/system-table.ts";
import { baseImages, docker, dockerFails, hostClient, hostPids, inspect, ROOT } from "./helpers.ts";

const PROJECT = "mkosct";
const SERVICES = [
  "nats",
  "hardware-emulator",
  "cpu",
  "kernel-core",
  "ata",
  "tty",
  "mfs",
  "procfs",
  "vfs",
  "sched",
  "workload",
  "shell",
  "dashboard",
  "rs",
];
const TOKEN = "compose-token-0123456789abcdef";
const compose = detectCompose();
const name = (service: string) => compose.containerName(PROJECT, service);
let env: Record<string, string>;
let stack: StartedDockerComposeEnvironment;
let client: RunningService;
let disk: BdevClient;

/**
 * Wait.forHealthCheck(), but a container that ends unhealthy (or exited) fails with its
 * state and last log lines in the error: compose removes it before anyone could look.
 */
function healthOrLogs(): WaitStrategy {
  const inner = Wait.forHealthCheck();
  const s: WaitStrategy = {
    async waitUntilReady(container, boundPorts, startTime) {
      try {
        await inner.waitUntilReady(container, boundPorts, startTime);
      } catch (e) {
        let detail: string;
        try {
          const state = docker("inspect", "-f", "{{.Name}} {{.State.Status}} exit {{.State.ExitCode}}", container.id);
          // The container's stdout and stderr (a crash's stack goes to stderr).
          const logs = spawnSync("docker", ["logs", "--tail", "15", container.id], { encoding: "utf8", timeout: 30_000 });
          detail = `${state}\n${`${logs.stdout}${logs.stderr}`.slice(-3000)}`;
        } catch (err) {
          detail = `(no state or logs: ${(err as Error).message})`;
        }
        throw new Error(`${(e as Error).message}: ${detail}`, { cause: e });
      }
    },
    withStartupTimeout(ms) {
      inner.withStartupTimeout(ms);
      return s;
    },
    isStartupTimeoutSet: () => inner.isStartupTimeoutSet(),
    getStartupTimeout: () => inner.getStartupTimeout(),
  };
  return s;
}

function environment(): DockerComposeEnvironment {
  let e = new DockerComposeEnvironment(ROOT, "docker-compose.yml")
    .withProjectName(PROJECT)
    .withEnvironment(env)
    .withStartupTimeout(180_000)
    .withWaitStrategy(name("config"), Wait.forOneShotStartup())
    .withWaitStrategy(name("disk-owner"), Wait.forOneShotStartup());
  for (const s of SERVICES) e = e.withWaitStrategy(name(s), healthOrLogs());
  if (compose.version === 1) e = e.withClientOptions({ executable: { standalone: true, executablePath: "docker-compose" } });
  return e;
}

/** mkctl in its container, from the host (`docker compose run --rm --no-deps mkctl ...`); input: its standard input (-T: no terminal). */
function mkctlRun(...args: string[]): string {
  return mkctlWith(undefined, ...args);
}

function mkctlWith(input: string | undefined, ...args: string[]): string {
  const out = execFileSync(
    compose.argv[0],
    [...compose.argv.slice(1), "-p", PROJECT, "run", "--rm", "--no-deps", ...(input !== undefined ? ["-T"] : []), "mkctl", ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: "utf8",
      stdio: [input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
      timeout: 120_000,
      ...(input !== undefined ? { input } : {}),
    },
  );
  if (input !== undefined) return out;
  return out.slice(Math.min(...["{", "["].map((c) => (out.includes(c) ? out.indexOf(c) : Infinity))));
}

async function endpoint(label: string): Promise<{ generation: number; state: string }> {
  const eps = await sysGetEndpoints(client.sys);
  return eps.find((e) => e.label === label)!;
}

async function untilReady(label: string, after: number, ms = 60_000): Promise<number> {
  const t0 = Date.now();
  await waitUntil(
    async () => {
      const e = await endpoint(label).catch(() => undefined);
      return e && e.state === "ready" && e.generation > after ? true : undefined;
    },
    { clock: systemClock, deadlineMs: ms, what: `${label} ready after generation ${after}` },
  );
  return Date.now() - t0;
}

beforeAll(async () => {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  // One mkos CPU (MK_SCHED_CPUS): user program containers take turns on it, and a driver's request preempts the one running.
  env = {
    ...baseImages(),
    MK_NATS_PORT: String(await freePort()),
    MKOS_KERNEL_PORT: String(await freePort()),
    MKOS_TAG: "compose-test",
    MK_SCHED_CPUS: "1",
    MKOS_DASHBOARD_PORT: String(await freePort()),
    MKOS_DASHBOARD_TOKEN: TOKEN,
  };
  // Start from nothing: no containers or volumes left by an earlier run. `down` needs no
  // image, so an image left by an older checkout is never started.
  execFileSync(compose.argv[0], [...compose.argv.slice(1), "-p", PROJECT, "-f", "docker-compose.yml", "down", "-v", "--remove-orphans"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: "ignore",
    timeout: 120_000,
  });
  stack = await environment().withBuild().up();
  client = await hostClient(name("config"), Number(env.MK_NATS_PORT));
  disk = new BdevClient(client.sys, "ata", { waitMs: 60_000 });
  await disk.openMinor(0);
}, 600_000);

afterAll(async () => {
  await client?.stop().catch(() => undefined);
  await stack?.down({ removeVolumes: true }).catch(() => undefined);
}, 120_000);

describe("compose", () => {
  it("compose - every container is healthy and every driver is ready in the endpoint table", async () => {
    for (const s of SERVICES) {
      expect(docker("inspect", "-f", "{{.State.Health.Status}}", name(s)), s).toBe("healthy");
    }
    for (const label of ["ata", "tty", "mfs", "procfs", "vfs"])
      expect(await endpoint(label), label).toMatchObject({ generation: 1, state: "ready" });
    const r = await fetch(`http://127.0.0.1:${env.MKOS_KERNEL_PORT}/readyz`);
    expect(r.status).toBe(200);
  });

  it("compose - a host client writes and reads back through the ATA driver", async () => {
    const data = pattern(500, 64);
    await disk.write(500, data);
    await disk.flush();
    expect(Buffer.from(await disk.read(500, 64)).equals(Buffer.from(data))).toBe(true);
  });

  it("compose - each container can read its own credential and not another's", () => {
    expect(docker("exec", name("ata"), "cat", "/run/mkos/creds/ata.json")).toMatch(/"user":"ata"/);
    expect(dockerFails("exec", name("ata"), "cat", "/run/mkos/creds/kernel.json")).toMatch(/Permission denied/);
    expect(dockerFails("exec", name("tty"), "cat", "/run/mkos/creds/ata.json")).toMatch(/Permission denied/);
    expect(dockerFails("exec", name("kernel-core"), "cat", "/run/mkos/nats.conf")).toMatch(/Permission denied/);
    expect(docker("exec", name("ata"), "id", "-u")).toBe("1003");
  });

  it("compose - under load, rs repairs: ata's process SIGKILLed in its container, ata docker kill, tty hung (SIGSTOP); a docker stop is left alone; no acknowledged write lost, kernel and emulator untouched", async () => {
    const kernelBefore = inspect(name("kernel-core"));
    const hwBefore = inspect(name("hardware-emulator"));
    const acked: number[] = [];
    let stop = false;
    let failure: unknown;
    const CHUNK = 64;
    const BASE = 4096;
    const workload = (async () => {
      // Round and round 900 chunks from BASE (28 MiB of the raw first half of the 64 MiB disk;
      // the second half is the file system's), then again: the same pattern per LBA, so a
      // rewrite verifies like the first write.
      for (let i = 0; !stop && i < 20_000; i++) {
        const lba = BASE + (i % 900) * CHUNK;
        await disk.write(lba, pattern(lba, CHUNK, 7));
        acked.push(lba);
      }
    })().catch((e) => (failure = e));
    const progress = async (n: number) => {
      const want = acked.length + n;
      await waitUntil(() => (acked.length >= want || failure ? true : undefined), {
        clock: systemClock,
        deadlineMs: 60_000,
        intervalMs: 20,
        what: `${n} more acknowledged writes`,
      });
    };
    const recoveries: Record<string, number> = {};
    await progress(10);

    // 1. The driver's process dies inside its container: the container ends, rs starts it.
    let gen = (await endpoint("ata")).generation;
    const pids = hostPids(name("ata"), /services\/drivers\/ata\/src\/main\.ts/);
    expect(pids).toHaveLength(1);
    process.kill(pids[0], "SIGKILL");
    recoveries["ata process SIGKILL"] = await untilReady("ata", gen);
    await progress(10);

    // 2. `docker kill`: Docker's policy would not restart it; rs does.
    gen = (await endpoint("ata")).generation;
    docker("kill", name("ata"));
    recoveries["ata docker kill"] = await untilReady("ata", gen);
    await progress(10);

    // 3. tty hangs (its Node process stopped): rs's heartbeat finds it, kills the container, starts it.
    let ttyGen = (await endpoint("tty")).generation;
    const ttyPids = hostPids(name("tty"), /services\/drivers\/tty\/src\/main\.ts/);
    process.kill(ttyPids[0], "SIGSTOP");
    recoveries["tty hung (SIGSTOP)"] = await untilReady("tty", ttyGen);

    // 4. `docker stop` of tty is a stop by hand: rs leaves it stopped; `docker start` brings
    // it back and rs supervises it again.
    ttyGen = (await endpoint("tty")).generation;
    docker("stop", "-t", "10", name("tty"));
    expect(docker("inspect", "-f", "{{.State.ExitCode}}", name("tty"))).toBe("0"); // drained and exited by itself
    // rs has decided: a stop by hand, left stopped (a restart would have come before this).
    await waitUntil(
      () => {
        const tty = (JSON.parse(mkctlRun("services", "--json")) as { label: string; state: string; last_cause: string | null }[]).find(
          (r) => r.label === "tty",
        );
        return tty?.state === "stopped" && /^stopped by hand outside rs/.test(tty.last_cause ?? "") ? true : undefined;
      },
      { clock: systemClock, deadlineMs: 30_000, what: "rs to record tty as stopped by hand" },
    );
    expect(inspect(name("tty")).running).toBe(false);
    docker("start", name("tty"));
    await untilReady("tty", ttyGen);
    const line = await client.sys.sendrec("tty", Cdev.CDEV_WRITE, { minor: 0 }, new TextEncoder().encode("tty is back\n"));
    expect(line.args).toEqual({ count: 12 });

    const services = JSON.parse(mkctlRun("services", "--json")) as {
      label: string;
      state: string;
      restarts: number;
      last_cause: string | null;
    }[];
    expect(services.find((r) => r.label === "ata")).toMatchObject({ state: "running", restarts: 2 });
    expect(services.find((r) => r.label === "tty")).toMatchObject({
      state: "running",
      restarts: 1,
      last_cause: expect.stringMatching(/^stopped by hand outside rs/),
    });

    stop = true;
    await workload;
    expect(failure).toBeUndefined();
    await disk.flush();
    for (const lba of new Set(acked)) {
      expect(Buffer.compare(Buffer.from(await disk.read(lba, CHUNK)), Buffer.from(pattern(lba, CHUNK, 7))), `lba ${lba}`).toBe(0);
    }
    expect(await endpoint("ata")).toMatchObject({ state: "ready" });
    expect((await endpoint("ata")).generation).toBeGreaterThanOrEqual(3);
    expect(inspect(name("kernel-core"))).toEqual(kernelBefore);
    expect(inspect(name("hardware-emulator"))).toEqual(hwBefore);
    console.log(
      `recovery times (fault to a ready new generation): ${JSON.stringify(recoveries)}; ${acked.length} writes of ${CHUNK * 512} bytes verified`,
    );
  });

  it("compose - a chaos campaign of 30 faults in the containers of ata, tty, mfs and vfs (kill, crash, hang, blocked loop, slow, corrupt) under block and file workloads: nothing lost, rs repairs every one, the file system clean", async () => {
    const exp = loadExperiment(join(ROOT, "experiments", "compose-campaign.yaml"), [
      ...loadSystemTable(join(ROOT, "etc", "system.yaml")).services.keys(),
    ]);
    const target = composeTarget({ project: PROJECT, kernelPort: Number(env.MKOS_KERNEL_PORT), natsPort: Number(env.MK_NATS_PORT) });
    const said: string[] = [];
    const j = await runExperiment(exp, { target, log: (s) => said.push(s) });
    console.log(summary(j));
    const r = j.report;
    // The demo workload was paused for the run (the fsck probes need no file open), and is not any more.
    expect(said).toContain("the demo workload is paused for the run");
    const demo = mkctlRun("workload", "--json");
    console.log(`the demo workload after the campaign: ${demo.trim()}`);
    expect(JSON.parse(demo.slice(demo.indexOf("{"))) as { paused_ms: number }).toMatchObject({ paused_ms: 0 });
    expect(j.status).toBe("completed");
    expect(r.faults_injected).toBeGreaterThanOrEqual(30);
    expect(r.ops_failed).toBe(0);
    expect(r.bytes_wrong).toBe(0);
    expect(r.by_workload.files.ops_attempted).toBeGreaterThan(0);
    expect(j.steady_state.after!.every((p) => p.within)).toBe(true);
    expect(r.detections).toBeGreaterThanOrEqual(
      r.faults_by_kind.kill + r.faults_by_kind.crash + r.faults_by_kind.hang + r.faults_by_kind.block,
    );
    expect(r.hangs_detected_late).toBe(0);
    expect(r.kernel_restarts).toBe(0);
    expect(r.hardware_restarts).toBe(0);
  });

  it("compose - the file systems in their own containers: mkctl fs through compose; a docker kill of mfs and of vfs under a file workload fails no operation", async () => {
    const fs = new FsClient(client.sys, { waitMs: 60_000 });
    expect(mkctlRun("fs", "mkdir", "-p", "/srv/compose")).toBe("");
    await fs.writeFile("/srv/compose/hello.txt", "hello from the host\n");
    expect(JSON.parse(mkctlRun("fs", "ls", "--json", "/srv/compose"))).toEqual([
      expect.objectContaining({ path: "/srv/compose/hello.txt", size: 20, dev: "mfs" }),
    ]);
    const df = JSON.parse(mkctlRun("fs", "df", "--json")) as { dev: string; mount: string }[];
    expect(df.map((d) => `${d.mount}=${d.dev}`)).toEqual(["/=mfs", "/proc=procfs"]);
    expect((await fs.readFile("/proc/mfs/status")).toString()).toMatch(/^State:\tready$/m);

    const w = new FileWorkload(client.sys, { workers: 2, maxBytes: 20000, seed: 5 });
    await w.start();
    const ops = async (n: number) => {
      const want = w.stats.ops_attempted + n;
      await waitUntil(() => (w.stats.ops_attempted >= want ? true : undefined), {
        clock: systemClock,
        deadlineMs: 60_000,
        intervalMs: 20,
        what: `${n} more file operations`,
      });
    };
    await ops(20);
    const restarts = async () =>
      Object.fromEntries(
        (JSON.parse(mkctlRun("services", "--json")) as { label: string; restarts: number }[]).map((r) => [r.label, r.restarts]),
      );
    const before = await restarts();
    for (const label of ["mfs", "vfs"]) {
      const gen = (await endpoint(label)).generation;
      docker("kill", name(label));
      await untilReady(label, gen);
      await ops(20);
    }
    const s = await w.stop();
    console.log(
      `compose file workload: ${s.ops_attempted} operations, ${s.bytes_verified} bytes verified across docker kills of mfs and vfs`,
    );
    expect(s.ops_failed).toBe(0);
    expect(s.bytes_wrong).toBe(0);
    const services = JSON.parse(mkctlRun("services", "--json")) as { label: string; state: string; restarts: number }[];
    for (const label of ["mfs", "vfs"])
      expect(
        services.find((r) => r.label === label),
        label,
      ).toMatchObject({ state: "running", restarts: before[label] + 1 });
  });

  it("compose - kernel-core preempts and continues user program containers through the CPU agent: two programs on one mkos CPU take turns, each really stopped (T) while the other runs; ATA requests preempt them; sched's policy answers from its container", async () => {
    const start = (service: string) =>
      execFileSync(compose.argv[0], [...compose.argv.slice(1), "-p", PROJECT, "run", "-d", "--no-deps", service], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 120_000,
      })
        .trim()
        .split("\n")
        .pop()!
        .trim();
    const containers: string[] = [];
    const spinRows = async () =>
      (await sysGetProcesses(client.sys)).processes
        .filter((p) => p.label === "spin" || p.label === "spin2")
        .sort((a, b) => a.label.localeCompare(b.label));
    const state = (pid: number) => readProcStat(pid)?.state;
    try {
      containers.push(start("spin"));
      containers.push(start("spin2"));
      // Both verified by their UIDs (a row that is not free) and taking turns.
      await waitUntil(
        async () => {
          const rows = await spinRows();
          return rows.length === 2 && rows.every((r) => r.state !== "free") && rows.some((r) => r.state === "running") ? true : undefined;
        },
        { clock: systemClock, deadlineMs: 60_000, what: "spin and spin2 verified, one running" },
      );
      const pids = containers.map((c) => hostPids(c, /bench\/spin\.ts/)[0]);
      expect(pids.every((p) => p > 0)).toBe(true);
      const before = await spinRows();
      const summaryBefore = (await sysGetProcesses(client.sys)).sched;
      const stoppedSeen = [0, 0];
      let done = false;
      const reads = (async () => {
        for (let i = 0; i < 300; i++) await disk.read(2048 + (i % 64) * 8, 8);
        done = true;
      })();
      while (!done) {
        pids.forEach((pid, i) => {
          if (state(pid) === "T") stoppedSeen[i]++;
        });
        await new Promise((r) => setImmediate(r));
      }
      await reads;
      const after = await spinRows();
      const summary = (await sysGetProcesses(client.sys)).sched;
      const preempted = after.reduce((n, r, i) => n + r.involuntary - before[i].involuntary, 0);
      console.log(
        `spin and spin2 preempted ${preempted} times over 300 ATA reads; seen stopped (T) from the host ${stoppedSeen.join(" and ")} times; the agent stopped ${summary.stops - summaryBefore.stops} and continued ${summary.continues - summaryBefore.continues}`,
      );
      expect(preempted).toBeGreaterThanOrEqual(50); // every read preempts the one running
      expect(stoppedSeen[0]).toBeGreaterThan(0);
      expect(stoppedSeen[1]).toBeGreaterThan(0);
      expect(summary.stops).toBeGreaterThan(summaryBefore.stops);
      expect(summary.continues).toBeGreaterThan(summaryBefore.continues);
      expect(after.every((r, i) => r.cpu_ms > before[i].cpu_ms)).toBe(true); // both computed: turns, not starvation
      await waitUntil(async () => ((await sysGetProcesses(client.sys)).sched.policy === "server" ? true : undefined), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: "sched's policy in force",
      });
      // spin2's container goes: spin has the CPU alone and is never left stopped.
      docker("rm", "-f", containers.pop()!);
      await waitUntil(() => (state(pids[0]) !== "T" ? true : undefined), {
        clock: systemClock,
        deadlineMs: 5000,
        intervalMs: 5,
        what: "spin continued",
      });
      await waitUntil(async () => ((await spinRows()).find((r) => r.label === "spin")?.state === "running" ? true : undefined), {
        clock: systemClock,
        deadlineMs: 10_000,
        what: "spin running alone",
      });
    } finally {
      for (const c of containers) docker("rm", "-f", c);
    }
  });

  it("compose - mkctl runs from the host through compose and prints the endpoint table", () => {
    const out = mkctlRun("ps", "--json");
    const table = JSON.parse(out.slice(out.indexOf("{"))) as { endpoints: { label: string; state: string }[] };
    const ready = table.endpoints.filter((e) => e.state === "ready").map((e) => e.label);
    expect(ready).toEqual(expect.arrayContaining(["ata", "tty", "kernel"]));
    // mkctl itself, as the instance this run connected as (mkctl.<id>).
    expect(ready.some((l) => /^mkctl\.[a-z0-9]{8}$/.test(l))).toBe(true);
  });

  it("compose - the dashboard on the host's loopback: every service ready, a kill from the chaos panel healed through the CPU agent, the workload losing nothing; mkctl console reaches the shell", async () => {
    const base = `http://127.0.0.1:${env.MKOS_DASHBOARD_PORT}/`;
    expect((await fetch(base)).status).toBe(200);
    type St = { nodes: { id: string; state: string; generation: number | null }[]; workload: { ops: number; failed: number } | null };
    const state = async () => (await (await fetch(`${base}api/state`)).json()) as St;
    await waitUntil(
      async () => {
        const s = await state();
        return ["ata", "tty", "mfs", "vfs", "workload", "shell"].every((l) => s.nodes.find((n) => n.id === l)?.state === "ready") &&
          (s.workload?.ops ?? 0) > 0
          ? true
          : undefined;
      },
      { clock: systemClock, deadlineMs: 60_000, what: "every service ready and the workload working, as the dashboard sees it" },
    );
    const refused = await fetch(`${base}api/chaos`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ target: "ata", fault: "kill" }),
    });
    expect(refused.status).toBe(401);
    const before = (await endpoint("ata")).generation;
    const r = await fetch(`${base}api/chaos`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ target: "ata", fault: "kill" }),
    });
    expect(r.status, await r.clone().text()).toBe(200);
    await untilReady("ata", before);
    const ops = (await state()).workload!.ops;
    await waitUntil(async () => ((await state()).workload!.ops > ops + 10 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 30_000,
      what: "the workload going on after the kill",
    });
    expect((await state()).workload!.failed).toBe(0);
    const out = mkctlWith("echo marker-through-compose\nservices\n", "console");
    expect(out).toMatch(/(^|\n)marker-through-compose\r?\n/);
    expect(out).toMatch(/\bata\b.*\brunning\b/);
  });

  it("compose - the disk image survives docker compose down and up", async () => {
    const marker = pattern(9000, 8, 99);
    await disk.write(9000, marker);
    await disk.flush();
    const ataBefore = (await endpoint("ata")).generation;
    await client.stop();
    await stack.down({ removeVolumes: false });
    stack = await environment().up();
    client = await hostClient(name("config"), Number(env.MK_NATS_PORT));
    disk = new BdevClient(client.sys, "ata", { waitMs: 60_000 });
    expect(Buffer.from(await disk.read(9000, 8)).equals(Buffer.from(marker))).toBe(true);
    // kernel-core's generation marks live on its own volume: ata#g is never a name used before.
    const after = await endpoint("ata");
    expect(after.state).toBe("ready");
    expect(after.generation).toBeGreaterThan(ataBefore);
    // And the files: the same file system is mounted again, not made anew.
    expect((await new FsClient(client.sys, { waitMs: 60_000 }).readFile("/srv/compose/hello.txt")).toString()).toBe(
      "hello from the host\n",
    );
  });
});
