// mkctl: boot, inspect and stop a process-mode mkos.
//   mkctl up [--demo] [--foreground] [--system FILE] [--run-dir DIR] [--disk FILE]
//   mkctl ps [--json]       the kernel's endpoint table (SYS_GETINFO as the mkctl service)
//   mkctl down              stop everything mkctl up started
//   mkctl kill PART         SIGKILL one part (a crash);  mkctl start PART: start it (again)
//   mkctl events [--json]   follow the kernel event stream (mk.ev.>)
import { constants } from "node:os";
import { parseArgs } from "node:util";
import { type LayoutType, type RepArgs, type ReqArgs, Rs, type EndpointInfo, type KernelEvent } from "#abi";
import { connectClient, followEvents, followRsEvents, sysGetEndpoints, type RunningService } from "#libsys";
import { loadCredential } from "#base/credentials.ts";
import { exitStatus, LocalError } from "#base/errors.ts";
import { createLogger } from "#base/log.ts";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { loadSystemTable } from "#base/system-table.ts";
import { loadExperiment } from "#chaos";
import { runExperiment, summary } from "#chaos";
import { composeTarget } from "#chaos";
import { loadArch, ProcessSystem, PROJECT_ROOT, writeArchTable } from "#boot";
import { genConfig } from "./gen-config.ts";
import { portFromEnv } from "#boot";
import { FS_USAGE, fsckCommand, fsCommand, fsError, mkfsCommand, type FsFlags } from "./fs-commands.ts";
import { niceCommand, SCHED_USAGE, topCommand } from "./sched-commands.ts";
import { TRACE_USAGE, traceCommand } from "./trace-command.ts";
import { ARCH_USAGE, archCommand } from "./arch-command.ts";
import { buildPageIfMissing, consoleCommand, dashboardUrl, DEMO_USAGE, workloadCommand } from "./demo-commands.ts";
import { commandHelp } from "./help.ts";
import { logsCommand } from "./logs-command.ts";
import { systemClock } from "#base/clock.ts";
import { textTable } from "#base/text-table.ts";

/** The demo workload's rate with mkctl up --demo (compose runs the same). */
const DEMO_RATE = 5;

const USAGE = `usage: mkctl up [--demo] [--arch NAME] [--foreground] [--system FILE] [--run-dir DIR] [--disk FILE]
         (--demo: the workload at ${DEMO_RATE} operations/s; --arch: microkernel (default), hybrid or monolithic
          (etc/arch); the last line is the dashboard's URL with its token;
          MKOS_KERNEL_PORT (the table's http_port, 7700) and MKOS_DASHBOARD_PORT (8080) choose the ports,
          one in use falls back to a free one, which up says)
       mkctl ps [--json] [--run-dir DIR]   (with MK_CREDS set: ask that system, e.g. in compose)
${ARCH_USAGE}
       mkctl gen-config --out DIR --url nats://nats:4222 [--system FILE]   (MK_UIDS=user=uid,...)
       mkctl down [--run-dir DIR]
       mkctl kill PART [--signal SIG] | start PART [--run-dir DIR]
       mkctl services [--json] | stop LABEL | restart LABEL [--run-dir DIR]   (through rs)
       mkctl events [--json] [--count N] [--for MS] [--run-dir DIR]   (follow mk.ev.>)
       mkctl chaos run FILE [--json] [--journal PATH] [--attach [--run-dir DIR] | --compose [--project P]]
${FS_USAGE}
${SCHED_USAGE}
${TRACE_USAGE}
${DEMO_USAGE}
       mkctl logs [PART...] [-f] [--tail N] [--run-dir DIR]   (each part's log; -f follows)
PART is nats, kernel, hardware, rs or a service label (ata, tty, mfs, procfs, vfs, sched). rs (the reincarnation
server) starts the services and restarts one that dies or hangs: kill ata is a crash it
repairs. start stops a process of that part that still runs, then starts a new one: a
driver gets the next generation (through rs: RS_RESTART); a new kernel-core is joined by
the running services (same generations); a new emulator is programmed again by the
kernel and the drivers; nats-server comes back on its old port; a new rs adopts the
services still serving. stop LABEL stops a service by hand (rs does not restart it);
restart LABEL (or start) brings it back and clears a failed state. services prints rs's
table: state, restarts, last cause, time to detect and to serve again.
kill, start and down act on a process-mode system (mkctl up); in compose use
docker compose kill|start SERVICE (docker-compose with Compose v1).
chaos run boots a fresh system as the experiment FILE describes (or, with --attach, uses
the running one; with --compose, the running compose stack, reached through
MKOS_KERNEL_PORT and MK_NATS_PORT), checks its steady state, runs a verifying workload while it injects the
faults, checks again and writes the journal (default journal.json); exit 0 when the
steady state held, 1 when it deviated, 2 for a bad file or invocation (docs/chaos.md).
events prints each lifecycle change (started, resumed, ready, dead with its cause) and
each privilege denial as it happens, until Ctrl-C, N events or MS milliseconds.
fs works on the running system's files as a user program sees them (through vfs; paths
are absolute); fsck asks mfs to check its disk (and with --repair to mend it) while no
file is open; mkfs makes a new, empty file system there.`;

function table(rows: EndpointInfo[]): string {
  const head = ["ENDPOINT", "STATE", "PLACEMENT", "PID", "MESSAGES", "SINCE"];
  const body = rows.map((r) => [r.endpoint, r.state, r.placement, String(r.pid), String(r.messages), r.since]);
  return textTable(head, body);
}

/**
 * mkctl as a client of the running system. With a credential in the environment
 * (compose: `docker compose run --rm mkctl ps`) no run directory is needed; otherwise the
 * process-mode system booted from runDir.
 */
async function connectMkctl(runDir: string | undefined): Promise<RunningService> {
  let credFile = process.env.MK_CREDS;
  if (!credFile) {
    const sys = ProcessSystem.attach(runDir);
    await sys.endpointsOrExplain(); // a clear error when nothing of that system runs
    credFile = sys.credFile("mkctl");
  }
  const log = createLogger("mkctl");
  log.level = "warn";
  // Each run its own instance: a second mkctl beside a long one supersedes nothing.
  return connectClient("mkctl", loadCredential(credFile), { log, instance: true });
}

function eventLine(ev: KernelEvent): string {
  const what =
    ev.kind === "dead"
      ? `cause=${ev.cause}${ev.detail ? ` (${ev.detail})` : ""}`
      : ev.kind === "denied"
        ? `${ev.denied} ${ev.target} -> ${ev.errno}${ev.suppressed ? ` (+${ev.suppressed} not shown)` : ""}`
        : "";
  return `${ev.at}  #${String(ev.seq).padEnd(5)} ${ev.kind.padEnd(8)} ${ev.endpoint.padEnd(14)} pid ${String(ev.pid).padEnd(7)} ${what}`.trimEnd();
}

async function events(runDir: string | undefined, o: { json: boolean; count?: number; forMs?: number }): Promise<void> {
  const client = await connectMkctl(runDir);
  let seen = 0;
  let finished = false;
  let follower: { stop(): void } | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        finished = true;
        resolve();
      };
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
      if (o.forMs !== undefined) setTimeout(done, o.forMs).unref();
      // rs's view too, when the system runs rs (its events are on their own stream).
      void followRsEvents(client.sys, (ev) => {
        if (finished) return;
        console.log(
          o.json
            ? JSON.stringify({ stream: "rs", ...ev })
            : `${ev.at}  rs#${String(ev.seq).padEnd(4)} ${ev.state.padEnd(8)} ${`${ev.label}${ev.generation ? `#${ev.generation}` : ""}`.padEnd(14)} ${ev.why}`,
        );
      }).catch(() => undefined);
      followEvents(client.sys, (ev, ctx) => {
        if (finished) return;
        if (ctx.newBoot && !o.json) console.log(`-- kernel-core restarted (boot ${ev.boot})`);
        if (ctx.missed > 0 && !o.json) console.log(`-- ${ctx.missed} events lost in transit (mkctl ps shows the table)`);
        console.log(o.json ? JSON.stringify({ ...ev, ...(ctx.missed ? { missedBefore: ctx.missed } : {}) }) : eventLine(ev));
        if (o.count !== undefined && ++seen >= o.count) done();
      }).then((f) => {
        follower = f;
        const until = [o.forMs !== undefined ? `${o.forMs} ms` : "", o.count !== undefined ? `${o.count} events` : ""]
          .filter(Boolean)
          .join(" or ");
        console.error(until ? `following mk.ev.> for ${until}` : "following mk.ev.> (Ctrl-C to stop)");
      }, reject);
    });
  } finally {
    follower?.stop();
    await client.stop();
  }
}

/** mkctl chaos run FILE: exit 0 held, 1 deviated, 2 bad file or invocation (Chaos Toolkit's codes). */
async function chaos(
  sub: string | undefined,
  file: string | undefined,
  runDir: string | undefined,
  o: { json: boolean; journal?: string; attach: boolean; compose: boolean; project?: string },
): Promise<number> {
  if (sub !== "run" || !file || (o.attach && o.compose)) {
    console.error(`mkctl: chaos needs: run FILE, with at most one of --attach and --compose (experiments/ holds examples)\n${USAGE}`);
    return 2;
  }
  const attached = o.attach ? ProcessSystem.attach(runDir) : undefined;
  const target = o.compose ? composeTarget({ project: o.project }) : undefined;
  const table = attached?.table ?? target?.table ?? loadSystemTable(join(PROJECT_ROOT, "etc", "system.yaml"));
  let exp;
  try {
    exp = loadExperiment(
      file,
      [...table.services.values()].filter((s) => s.command || s.placement === "kernel" || s.module).map((s) => s.label),
    );
  } catch (e) {
    console.error(`mkctl: ${(e as Error).message}`);
    return 2;
  }
  const journal = await runExperiment(exp, { attach: attached, target, log: (l) => !o.json && console.error(`chaos: ${l}`) });
  const path = o.journal ?? "journal.json";
  writeFileSync(path, `${JSON.stringify(journal, null, 2)}\n`);
  if (o.json) console.log(JSON.stringify(journal));
  else console.log(`${summary(journal)}\n  journal: ${path}`);
  return journal.deviated ? 1 : 0;
}

/** One request to rs, as the mkctl client (process mode or compose). */
async function rsRequest<T extends LayoutType>(runDir: string | undefined, type: T, args: ReqArgs<T>): Promise<RepArgs<T>> {
  const client = await connectMkctl(runDir);
  try {
    return (await client.sys.sendrec("rs", type, args, undefined, 30_000)).args;
  } finally {
    await client.stop();
  }
}

async function ps(runDir: string | undefined, json: boolean): Promise<void> {
  const client = await connectMkctl(runDir);
  try {
    const rows = await sysGetEndpoints(client.sys);
    process.stdout.write(json ? `${JSON.stringify({ endpoints: rows }, null, 2)}\n` : `${table(rows)}\n`);
  } finally {
    await client.stop();
  }
}

function args() {
  // mkctl nice LABEL -5 (and mkctl workload rate -3, refused by name): a negative value is a positional, not an option.
  const argv = process.argv.slice(2);
  const negative = argv[0] === "nice" || argv[0] === "workload" ? argv.filter((a) => /^-[0-9]+$/.test(a)) : [];
  const rest = argv.filter((a) => !negative.includes(a) && !(negative.length > 0 && a === "--"));
  try {
    return parseArgs({
      args: negative.length > 0 ? [...rest, "--", ...negative] : argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        foreground: { type: "boolean", default: false },
        system: { type: "string" },
        arch: { type: "string" },
        "run-dir": { type: "string" },
        disk: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        out: { type: "string" },
        url: { type: "string" },
        count: { type: "string" },
        signal: { type: "string" },
        journal: { type: "string" },
        attach: { type: "boolean", default: false },
        compose: { type: "boolean", default: false },
        project: { type: "string" },
        for: { type: "string" },
        long: { type: "boolean", short: "l", default: false },
        recursive: { type: "boolean", short: "r", default: false },
        parents: { type: "boolean", short: "p", default: false },
        repair: { type: "boolean", default: false },
        yes: { type: "boolean", default: false },
        "block-size": { type: "string" },
        interval: { type: "string" },
        demo: { type: "boolean", default: false },
        quiet: { type: "string" },
        follow: { type: "boolean", short: "f", default: false },
        tail: { type: "string" },
      },
    });
  } catch (e) {
    // node:util's ERR_PARSE_ARGS_*: an unknown option, or a value missing. Its own text
    // advises quoting with `--`, which mkctl never needs: say what was wrong instead.
    const cmd = argv.find((a) => !a.startsWith("-"));
    const more = cmd && commandHelp(cmd) ? `mkctl ${cmd} --help` : "mkctl --help";
    const code = (e as { code?: string }).code;
    const option = /'(-[^']*)'/.exec((e as Error).message)?.[1] ?? "";
    const what =
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
        ? `unknown option ${option}`
        : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
          ? `option ${option.split(" ")[0] || option} needs a value`
          : "the command line cannot be read";
    throw new LocalError("MK_ERR_USAGE", `${what} (${more} lists the options)`, { cause: e });
  }
}

async function main(): Promise<number> {
  const { values, positionals } = args();
  const [cmd, arg] = positionals;
  const runDir = values["run-dir"];
  if (values.help || cmd === "help") {
    const which = cmd === "help" ? arg : cmd;
    const own = which === undefined ? undefined : commandHelp(which);
    if (which !== undefined && own === undefined) throw new LocalError("MK_ERR_USAGE", `no command ${which} (mkctl --help lists them)`);
    console.log(own ?? USAGE);
    return 0;
  }
  if (!cmd) throw new LocalError("MK_ERR_USAGE", `no command given\n${USAGE}`);
  if ((cmd === "kill" || cmd === "down") && process.env.MK_CREDS && !values["run-dir"] && !process.env.MKOS_RUN_DIR) {
    throw new LocalError(
      "MK_ERR_USAGE",
      `${cmd} acts on a process-mode system (mkctl up); in compose use: docker compose ${cmd === "down" ? "down" : `${cmd} SERVICE`} (docker-compose with Compose v1)`,
    );
  }
  switch (cmd) {
    case "up": {
      const started = Date.now();
      const env = values.demo ? { MK_WORKLOAD_RATE: String(DEMO_RATE) } : undefined;
      // An architecture's table: the privilege table with the profile's placements, beside the run directory.
      const system = values.arch
        ? writeArchTable(
            values.system ?? join(PROJECT_ROOT, "etc", "system.yaml"),
            loadArch(values.arch),
            join(dirname(resolve(runDir ?? ProcessSystem.defaultRunDir())), "arch"),
          )
        : values.system;
      buildPageIfMissing(system);
      const sys = await ProcessSystem.up({
        system,
        runDir,
        disk: values.disk,
        env,
        kernelPort: portFromEnv("MKOS_KERNEL_PORT"),
      });
      console.log(
        `mkos up in ${Date.now() - started} ms: kernel-core ${sys.state.kernelHttp}, NATS ${sys.state.natsUrl}, logs in ${sys.state.runDir}/logs`,
      );
      const { kernelPortWanted: wanted, kernelHttp } = sys.state;
      if (wanted && new URL(kernelHttp).port !== String(wanted))
        console.log(`port ${wanted} is in use: kernel-core listens on ${new URL(kernelHttp).port} (MKOS_KERNEL_PORT chooses)`);
      for (const f of sys.failed)
        console.error(`mkctl: ${f.label} failed: ${f.last_cause} (the rest runs; mkctl restart ${f.label} once fixed)`);
      await ps(sys.state.runDir, false);
      const dashboard = sys.table.services.get("dashboard")?.command ? await dashboardUrl(sys.state.runDir, started - 1000) : undefined;
      if (values.foreground) console.log("running in the foreground; Ctrl-C stops everything");
      // The URL alone on the last line (scripts take it with tail -1), as Jupyter prints its own.
      if (dashboard) console.log(`the dashboard (the token in the URL lets the page change things):\n${dashboard}`);
      if (values.foreground) {
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await sys.down();
        console.log("mkos down");
      }
      return 0;
    }
    case "ps":
      await ps(runDir, values.json);
      return 0;
    case "arch": {
      const client = await connectMkctl(runDir);
      try {
        await archCommand(client, values.json);
      } finally {
        await client.stop();
      }
      return 0;
    }
    case "events": {
      const num = (name: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1)
          throw new LocalError("MK_ERR_USAGE", `mkctl events --${name} needs a positive integer, got ${JSON.stringify(v)}`);
        return n;
      };
      await events(runDir, { json: values.json, count: num("count", values.count), forMs: num("for", values.for) });
      return 0;
    }
    case "gen-config": {
      if (!values.out || !values.url) throw new LocalError("MK_ERR_USAGE", "gen-config needs --out DIR and --url nats://HOST:PORT");
      const r = genConfig({
        system: values.system ?? join(PROJECT_ROOT, "etc", "system.yaml"),
        out: values.out,
        clientUrl: values.url,
        listen: process.env.MK_NATS_LISTEN ?? "0.0.0.0:4222",
        monitor: process.env.MK_NATS_MONITOR ?? "0.0.0.0:8222",
        uids: process.env.MK_UIDS ?? "",
        defaultUid: Number(process.env.MK_DEFAULT_UID ?? 1000),
      });
      console.log(`${r.written ? "generated" : "kept"} NATS config and credentials for ${r.users.join(", ")} in ${values.out}`);
      return 0;
    }
    case "down": {
      const sys = ProcessSystem.attach(runDir);
      await sys.down();
      console.log("mkos down: every process stopped");
      return 0;
    }
    case "kill": {
      if (!arg) throw new LocalError("MK_ERR_USAGE", "kill needs a PART (nats, kernel, hardware, rs or a service label)");
      const signal = (values.signal ?? "SIGKILL").toUpperCase().replace(/^(?!SIG)/, "SIG") as NodeJS.Signals;
      if (!(signal in constants.signals))
        throw new LocalError("MK_ERR_USAGE", `kill --signal: ${values.signal} is not a signal (e.g. SIGKILL, SIGSTOP, SIGCONT)`);
      const pid = ProcessSystem.attach(runDir).kill(arg, signal);
      console.log(`${arg}: ${signal} sent to pid ${pid}`);
      return 0;
    }
    case "chaos":
      return chaos(arg, positionals[2], runDir, {
        json: values.json,
        journal: values.journal,
        attach: values.attach,
        compose: values.compose,
        project: values.project,
      });
    case "services": {
      const rows = (await rsRequest(runDir, Rs.RS_LIST, {})).services;
      if (values.json) {
        console.log(
          JSON.stringify(
            rows.map((r) => ({
              label: r.label,
              generation: r.generation ?? null,
              state: r.state,
              restarts: r.restarts,
              last_cause: r.last_cause ?? null,
              detect_ms: r.detect_ms ?? null,
              recover_ms: r.recover_ms ?? null,
              recover_p50_ms: r.recover_p50_ms ?? null,
              recover_p99_ms: r.recover_p99_ms ?? null,
              pid: r.pid ?? null,
              misses_excused: r.misses_excused ?? null,
            })),
            null,
            2,
          ),
        );
        return 0;
      }
      const head = ["LABEL", "STATE", "PID", "GEN", "RESTARTS", "DETECT_MS", "RECOVER_MS", "P50/P99", "LAST CAUSE"];
      const body = rows.map((r) => [
        r.label,
        r.state,
        String(r.pid ?? "-"),
        String(r.generation ?? "-"),
        String(r.restarts),
        String(r.detect_ms ?? "-"),
        String(r.recover_ms ?? "-"),
        r.recover_p50_ms === undefined ? "-" : `${r.recover_p50_ms}/${r.recover_p99_ms}`,
        r.last_cause ?? "",
      ]);
      console.log(textTable(head, body));
      return 0;
    }
    case "stop": {
      if (!arg) throw new LocalError("MK_ERR_USAGE", "stop needs a service LABEL");
      await rsRequest(runDir, Rs.RS_DOWN, { label: arg });
      console.log(`${arg}: stopped (rs will not restart it; mkctl start ${arg} brings it back)`);
      return 0;
    }
    case "restart":
    case "start": {
      if (!arg) throw new LocalError("MK_ERR_USAGE", `${cmd} needs a PART (nats, kernel, hardware, rs or a service label)`);
      if (process.env.MK_CREDS && !values["run-dir"] && !process.env.MKOS_RUN_DIR) {
        // compose: a service is started again by rs (the containers below rs are compose's).
        const { pid } = await rsRequest(runDir, Rs.RS_RESTART, { label: arg });
        console.log(`${arg}: started again by rs (pid ${pid} on the Docker host)`);
        return 0;
      }
      const sys = ProcessSystem.attach(runDir);
      const part = arg === "kernel-core" ? "kernel" : arg;
      if (part === "nats" || part === "kernel" || part === "hardware" || part === "rs") {
        const pid = await sys.start(part);
        console.log(`${part}: started pid ${pid}`);
        return 0;
      }
      try {
        const before = (await sys.endpointsOrExplain()).find((e) => e.label === part)?.generation ?? 0;
        const pid = await sys.start(part);
        await sys.waitAllReady(30_000, { [part]: before }, [part]);
        const now = (await sys.endpoints()).find((e) => e.label === part);
        console.log(`${part}: started pid ${pid} as ${now?.endpoint ?? part}`);
      } finally {
        await sys.closeClient();
      }
      return 0;
    }
    case "fs":
    case "fsck":
    case "mkfs": {
      const flags: FsFlags = {
        json: values.json,
        long: values.long,
        recursive: values.recursive,
        parents: values.parents,
        repair: values.repair,
        yes: values.yes,
        blockSize: values["block-size"],
      };
      const client = await connectMkctl(runDir);
      try {
        if (cmd === "fsck") return await fsckCommand(client, flags);
        if (cmd === "mkfs") await mkfsCommand(client, flags);
        else await fsCommand(client, arg, positionals.slice(2), flags);
        return 0;
      } catch (e) {
        throw fsError(e);
      } finally {
        await client.stop();
      }
    }
    case "logs": {
      const dir = join(runDir ?? ProcessSystem.defaultRunDir(), "logs");
      // Ctrl-C ends a follow; without -f it is Node's own (the command stops where it is).
      const stopped = values.follow
        ? new Promise<void>((resolve) => {
            process.once("SIGINT", () => resolve());
            process.once("SIGTERM", () => resolve());
          })
        : new Promise<void>(() => undefined);
      await logsCommand(dir, {
        parts: positionals.slice(1),
        follow: values.follow,
        tail: values.tail,
        write: (s) => process.stdout.write(s),
        clock: systemClock,
        stopped,
      });
      return 0;
    }
    case "console":
    case "workload": {
      const client = await connectMkctl(runDir);
      try {
        if (cmd === "console") await consoleCommand(client, { quietMs: values.quiet });
        else await workloadCommand(client, positionals.slice(1), values.json);
        return 0;
      } finally {
        await client.stop();
      }
    }
    case "trace": {
      const client = await connectMkctl(runDir);
      try {
        await traceCommand(client, positionals.slice(1), { json: values.json, count: values.count });
        return 0;
      } finally {
        await client.stop();
      }
    }
    case "top":
    case "nice": {
      const client = await connectMkctl(runDir);
      try {
        if (cmd === "top") await topCommand(client, { json: values.json, count: values.count, interval: values.interval });
        else await niceCommand(client, arg, positionals[2]);
        return 0;
      } finally {
        await client.stop();
      }
    }
    default:
      throw new LocalError("MK_ERR_USAGE", `unknown command ${cmd}\n${USAGE}`);
  }
}

// Every failure is one line (the usage text after it for a usage error) and a sysexits
// status from the error registry: an errno the system answered 1, usage 64, unavailable 69,
// software 70, config 78.
main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`mkctl: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(exitStatus(e));
  },
);
