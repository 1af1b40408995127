// npm run bench:recovery [-- --json] [-- --rounds N] [-- --hangs N] [-- --faults N] [-- --help]
// How fast mkos heals. Boots a process-mode system and, round by round, SIGKILLs the ATA
// driver (a crash) or SIGSTOPs it (a hang), and measures from the fault to the kernel's
// `ready` event of the next generation, with rs's own time to detect. Beside it, in the
// same run, Docker's own restart of a process that died in its container (restart
// policy `always`, a fresh container per round so Docker's backoff starts at its
// minimum): the baseline. `--faults N` is the soak: N faults, crashes and hangs mixed.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { Rs, SysCall, type KernelEvent } from "#abi";
import { composeTarget } from "../services/chaos/src/compose-target.ts";
import { connectClient, createLogger, followEvents, loadCredential, systemClock, waitUntil } from "#libsys";
import { deriveSystemYaml, ProcessSystem, PROJECT_ROOT } from "../services/boot/src/index.ts";
import { textTable } from "#base/text-table.ts";

const USAGE = `usage: npm run bench:recovery [-- options]
  --json        {"rows":[{fault, backend, mode, detect_ms_p50, recover_ms_p50, recover_ms_p99, n}]}
  --rounds N    crashes (SIGKILL) of the ATA driver (default 10)
  --hangs N     hangs (SIGSTOP) of the ATA driver (default 3; each takes about 2 heartbeats)
  --standby N   crashes of the ATA driver with a warm standby (restart.standby; default 10)
  --docker N    rounds of Docker's own restart, the baseline (default 5; 0 to skip)
  --faults N    soak: N faults, crashes and hangs mixed, instead of the rounds above
  --compose N   also N faults on ata in the running compose stack (half docker kill, half SIGSTOP)
                (project --project, default the checkout's folder; ports MKOS_KERNEL_PORT,
                MK_NATS_PORT), 11 s apart so each is a first restart for rs's policy
  --project P   the compose project for --compose
  --help        this text
Measured: fault -> the kernel's ready event of the next generation (recover), and rs's
time from the death (or the last heartbeat answered) to its detection (detect).`;

function cli() {
  try {
    return parseArgs({
      options: {
        json: { type: "boolean", default: false },
        rounds: { type: "string", default: "10" },
        hangs: { type: "string", default: "3" },
        docker: { type: "string", default: "5" },
        standby: { type: "string", default: "10" },
        faults: { type: "string" },
        compose: { type: "string", default: "0" },
        project: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench:recovery: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = cli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function count(name: string, raw: string | undefined, max = 100_000): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(`bench:recovery: --${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
const soak = values.faults !== undefined ? count("faults", values.faults) : undefined;
const crashes = soak !== undefined ? 0 : count("rounds", values.rounds);
const hangs = soak !== undefined ? 0 : count("hangs", values.hangs);
const dockerRounds = count("docker", values.docker, 100);
const standbyRounds = soak !== undefined ? 0 : count("standby", values.standby);
const composeRounds = count("compose", values.compose, 100);

const HEARTBEAT_MS = 1000;
const BACKOFF_MS = 100;

interface Row {
  fault: string;
  backend: string;
  mode: "cold" | "standby";
  n: number;
  detect_ms_p50: number | null;
  recover_ms_p50: number;
  recover_ms_p99: number;
  recover_ms_max: number;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function row(fault: string, backend: string, recover: number[], detect: number[]): Row {
  return {
    fault,
    backend,
    mode: "cold",
    n: recover.length,
    detect_ms_p50: detect.length ? Math.round(pct(detect, 50)) : null,
    recover_ms_p50: Math.round(pct(recover, 50)),
    recover_ms_p99: Math.round(pct(recover, 99)),
    recover_ms_max: Math.round(Math.max(...recover)),
  };
}

/** mkos in process mode: rs restarts the ATA driver after each fault (with standby: hands over to its warm standby). */
async function mkos(standby = false): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-recovery-"));
  const shipped = readFileSync(join(PROJECT_ROOT, "etc", "system.yaml"), "utf8");
  // A fixed backoff and no intensity limit: every round is a cold restart after the same
  // first backoff, not a crash loop that backs off further or is failed.
  const yaml = deriveSystemYaml(shipped, {
    httpPort: 0,
    sectors: 4096,
    services: "  bench-watch:\n    calls: [getinfo]\n    events: true\n",
  }).replace(
    /restart: \{[^}]*\{[^}]*\} \}/,
    `restart: { heartbeat_ms: ${HEARTBEAT_MS}, backoff_min_ms: ${BACKOFF_MS}, backoff_max_ms: ${BACKOFF_MS}, intensity: { restarts: 1000, seconds: 1 }, standby: ${standby} }`,
  );
  writeFileSync(join(dir, "system.yaml"), yaml);
  const sys = await ProcessSystem.up({
    system: join(dir, "system.yaml"),
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "warn" },
  });
  const log = createLogger("bench");
  log.level = "warn";
  const watch = await connectClient("bench-watch", loadCredential(sys.credFile("bench-watch")), { log });
  const ready: KernelEvent[] = [];
  await followEvents(watch.sys, (ev) => {
    if (ev.kind === "ready" && ev.label === "ata") ready.push(ev);
  });
  const results = { crash: { recover: [] as number[], detect: [] as number[] }, hang: { recover: [] as number[], detect: [] as number[] } };
  const fault = async (kind: "crash" | "hang") => {
    const gen = (await sys.endpoints()).find((e) => e.label === "ata")!.generation;
    const t0 = Date.now();
    sys.kill("ata", kind === "crash" ? "SIGKILL" : "SIGSTOP");
    const ev = await waitUntil(() => ready.find((e) => e.generation > gen), {
      clock: systemClock,
      deadlineMs: 30_000,
      intervalMs: 5,
      what: `ata after generation ${gen}`,
    });
    results[kind].recover.push(Date.parse(ev.at) - t0);
    const rs = (await sys.services()).find((r) => r.label === "ata");
    if (rs?.detect_ms !== undefined) results[kind].detect.push(rs.detect_ms);
    // Let rs see it serving before the next fault (its ready event reached rs too).
    await waitUntil(async () => ((await sys.services()).find((r) => r.label === "ata")?.state === "running" ? true : undefined), {
      clock: systemClock,
      deadlineMs: 10_000,
      what: "rs to see ata running",
    });
  };
  try {
    if (standby) {
      for (let i = 0; i < standbyRounds; i++) {
        // The standby takes over the first restart after a healthy spell (a whole intensity
        // window, 1 s here), and a new standby must have started: wait for both.
        await systemClock.sleep(1100);
        await waitUntil(() => (sys.alive()["ata.standby"] ? true : undefined), {
          clock: systemClock,
          deadlineMs: 10_000,
          what: "ata's standby running",
        });
        await systemClock.sleep(300); // loaded and connected
        await fault("crash");
      }
    } else if (soak !== undefined) {
      for (let i = 0; i < soak; i++) {
        await fault(i % 10 === 9 ? "hang" : "crash");
        if (!values.json && (i + 1) % 100 === 0) console.error(`soak: ${i + 1}/${soak} faults`);
      }
    } else {
      for (let i = 0; i < crashes; i++) await fault("crash");
      for (let i = 0; i < hangs; i++) await fault("hang");
    }
    const kernelAlive = sys.alive().kernel;
    if (!kernelAlive) throw new Error("kernel-core died during the run");
  } finally {
    await watch.stop();
    await sys.down();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: Row[] = [];
  if (standby) return [{ ...row("crash (SIGKILL)", "process", results.crash.recover, results.crash.detect), mode: "standby" }];
  if (results.crash.recover.length) rows.push(row("crash (SIGKILL)", "process", results.crash.recover, results.crash.detect));
  if (results.hang.recover.length)
    rows.push(row(`hang (SIGSTOP), heartbeat ${HEARTBEAT_MS} ms`, "process", results.hang.recover, results.hang.detect));
  return rows;
}

/**
 * The compose stack's rs (Docker backend): docker kill of ata's container to the kernel's
 * ready event of the next generation, with rs's own detection time.
 */
async function composeMode(rounds: number): Promise<Row[]> {
  const target = composeTarget({ project: values.project });
  const log = createLogger("bench");
  log.level = "warn";
  const watch = await connectClient("mkctl", target.credential("mkctl"), { log });
  const ready: KernelEvent[] = [];
  await followEvents(watch.sys, (ev) => void (ev.kind === "ready" && ev.label === "ata" && ready.push(ev)));
  const runs = {
    SIGKILL: { recover: [] as number[], detect: [] as number[] },
    SIGSTOP: { recover: [] as number[], detect: [] as number[] },
  };
  try {
    // Crashes (docker kill), then hangs (SIGSTOP of the driver's Node process): half each.
    for (let i = 0; i < rounds; i++) {
      const sig = i < Math.ceil(rounds / 2) ? "SIGKILL" : "SIGSTOP";
      if (i > 0) await systemClock.sleep(11_000); // a healthy spell: the shipped backoff starts again at its minimum
      const eps = (await watch.sys.kernelCall(SysCall.SYS_GETINFO, { what: "endpoints" })).args.endpoints ?? [];
      const gen = eps.find((e) => e.label === "ata")!.generation;
      const t0 = Date.now();
      target.signal("ata", sig);
      const ev = await waitUntil(() => ready.find((e) => e.generation > gen), {
        clock: systemClock,
        deadlineMs: 60_000,
        intervalMs: 5,
        what: `ata after generation ${gen}`,
      });
      runs[sig].recover.push(Date.parse(ev.at) - t0);
      const rows = (await watch.sys.sendrec("rs", Rs.RS_LIST, {})).args;
      const d = rows.services.find((r) => r.label === "ata")?.detect_ms;
      if (d !== undefined) runs[sig].detect.push(d);
    }
  } finally {
    await watch.stop();
  }
  const out = [row("crash (docker kill)", "docker (rs, compose)", runs.SIGKILL.recover, runs.SIGKILL.detect)];
  if (runs.SIGSTOP.recover.length)
    out.push(row("hang (SIGSTOP), heartbeat 1000 ms", "docker (rs, compose)", runs.SIGSTOP.recover, runs.SIGSTOP.detect));
  return out;
}

/** Docker's own restart (policy always) of a process that died in its container: the baseline. */
async function dockerBaseline(rounds: number): Promise<Row | { skipped: string }> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    return { skipped: "no Docker engine answers" };
  }
  const image = process.env.NODE_IMAGE ?? imageFromScript();
  if (!image) return { skipped: "no Node image (scripts/base-images.sh)" };
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const c = await docker.createContainer({
      Image: image,
      Cmd: ["node", "-e", "setInterval(() => {}, 1000)"],
      HostConfig: { RestartPolicy: { Name: "always" }, Init: true, NetworkMode: "none" },
      Labels: { "mkos.bench": "recovery" },
    });
    try {
      await c.start();
      const top = await c.top({ ps_args: "-eo pid,args" });
      const pid = Number((top.Processes as string[][]).find((p) => /node -e/.test(p.join(" ")))?.[0]);
      const events = (await docker.getEvents({ filters: { container: [c.id], event: ["start"] } })) as NodeJS.ReadableStream;
      const started = new Promise<number>((resolve) =>
        events.on("data", (d: Buffer) => resolve(Number((JSON.parse(d.toString().split("\n")[0]) as { timeNano: number }).timeNano) / 1e6)),
      );
      const t0 = Date.now();
      process.kill(pid, "SIGKILL");
      times.push((await started) - t0);
      (events as unknown as { destroy(): void }).destroy();
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
    }
  }
  return row("process died in its container", `docker restart policy (${image})`, times, []);
}

function imageFromScript(): string | undefined {
  try {
    const out = execFileSync("bash", [join(PROJECT_ROOT, "scripts", "base-images.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return /NODE_IMAGE=(\S+)/.exec(out)?.[1]?.replace(/^['"]|['"]$/g, "");
  } catch {
    return undefined;
  }
}

const rows = await mkos();
if (standbyRounds > 0) rows.push(...(await mkos(true)));
if (composeRounds > 0) rows.push(...(await composeMode(composeRounds)));
const baseline = dockerRounds > 0 ? await dockerBaseline(dockerRounds) : { skipped: "--docker 0" };
if ("fault" in baseline) rows.push(baseline);
if (values.json) {
  console.log(JSON.stringify({ rows, ...("skipped" in baseline ? { docker_baseline: `skipped: ${baseline.skipped}` } : {}) }));
} else {
  const head = ["FAULT", "BACKEND", "MODE", "N", "DETECT p50", "RECOVER p50", "p99", "max"];
  const body = rows.map((r) => [
    r.fault,
    r.backend,
    r.mode,
    String(r.n),
    r.detect_ms_p50 === null ? "-" : `${r.detect_ms_p50} ms`,
    `${r.recover_ms_p50} ms`,
    `${r.recover_ms_p99} ms`,
    `${r.recover_ms_max} ms`,
  ]);
  console.log(textTable(head, body));
  console.log(
    `recover: fault -> the next generation's ready event (includes rs's backoff_min_ms of ${BACKOFF_MS} ms; a hang also the wait for 2 missed heartbeats).`,
  );
  const base = rows.find((r) => r.backend.startsWith("docker restart policy"));
  const crash = rows.find((r) => r.fault.startsWith("crash"));
  if (base && crash)
    console.log(
      `ratio: mkos crash recovery p50 / Docker's restart p50 = ${(crash.recover_ms_p50 / base.recover_ms_p50).toFixed(2)} (Docker's restarts a container; mkos restarts the driver and waits for it to serve)`,
    );
  if ("skipped" in baseline) console.log(`Docker baseline skipped: ${baseline.skipped}`);
  const cold = rows.find((r) => r.fault.startsWith("crash") && r.mode === "cold");
  const warm = rows.find((r) => r.mode === "standby");
  if (cold && warm)
    console.log(
      `standby: a warm incarnation (loaded, connected) takes over without a Node start and without the backoff: p50 ${warm.recover_ms_p50} ms against ${cold.recover_ms_p50} ms cold`,
    );
}
process.exit(0);
