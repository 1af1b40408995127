// kernel-core process entry. Loads and validates the privilege table (a bad table stops
// boot), connects to NATS as the kernel (and as the system-account watcher), programs
// the hardware, starts in-kernel servers, then serves traps and HTTP until SIGTERM. It
// announces its boot on mk.kernel.boot at start, after every NATS reconnect and once a
// second: running services register again with a new kernel, and fail their requests
// at once when the announcements stop. Every lifecycle change and denial is published
// on mk.ev.> (the kernel event stream).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KERNEL, KERNEL_BEACON_MS, parseShape, decodeRawArgs, f, StatSubjects, Subjects } from "#abi";
import { systemClock, type Timer } from "#base/clock.ts";
import { loadCredential, MK_ACCOUNT } from "#base/credentials.ts";
import { exitStatus, ExitStatus, isLocalError, LocalError } from "#base/errors.ts";
import { createLogger } from "#base/log.ts";
import { connectNats, FIRST_CONNECT_WAIT_MS, watchConnection } from "#base/nats-connect.ts";
import { readEnvelope } from "#base/nats-envelope.ts";
import { onShutdown } from "#base/shutdown.ts";
import { loadSystemTable } from "#base/system-table.ts";
import { Wire } from "#base/wire.ts";
import { startService, type ServiceModule } from "#libsys";
import {
  AgentControl,
  announceBoot,
  buildHttp,
  generationFile,
  Kernel,
  kernelStat,
  KernelTransport,
  NatsHwBus,
  NatsLink,
  PROJECT_ROOT,
  SignalControl,
} from "#kernel";

const log = createLogger("kernel-core", `${KERNEL}#1`);

/**
 * MK_IPC_PATH overrides the privilege table's paths for a run: `trap` sends every sendrec
 * through the kernel both ways, `reply-direct` every one that can take it; `table` (or
 * unset) does as each pair's entry says.
 */
function ipcPathMode(): "table" | "trap" | "reply-direct" {
  const v = process.env.MK_IPC_PATH ?? "table";
  if (v === "" || v === "table" || v === "trap" || v === "reply-direct") return v === "" ? "table" : v;
  const e = new LocalError("MK_ERR_BAD_ENV", `MK_IPC_PATH=${JSON.stringify(v.slice(0, 32))} is not table, trap or reply-direct`);
  log.fatal({ code: e.code }, "boot stopped: %s", e.message);
  console.error(`kernel-core: boot stopped: ${e.message}`);
  process.exit(exitStatus(e));
}

async function main(): Promise<void> {
  const bootedAt = systemClock.now();
  const file = process.env.MK_SYSTEM ?? "etc/system.yaml";
  let priv;
  try {
    priv = loadSystemTable(file);
  } catch (e) {
    if (isLocalError(e, "MK_ERR_SYSTEM_TABLE")) {
      log.fatal({ file, code: e.code }, "boot stopped: %s", e.message);
      console.error(`kernel-core: boot stopped: ${e.message}`);
      process.exit(exitStatus(e));
    }
    throw e;
  }
  // MK_SCHED_CPUS overrides kernel.sched.cpus (compose: `MK_SCHED_CPUS=1 docker compose up`).
  const cpus = process.env.MK_SCHED_CPUS;
  if (cpus !== undefined && cpus !== "") {
    const n = Number(cpus);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      const e = new LocalError("MK_ERR_BAD_ENV", `MK_SCHED_CPUS=${JSON.stringify(cpus)} is not an integer from 1 to 64`);
      log.fatal({ code: e.code }, "boot stopped: %s", e.message);
      console.error(`kernel-core: boot stopped: ${e.message}`);
      process.exit(exitStatus(e));
    }
    priv.kernel.sched.cpus = n;
  }
  const cred = loadCredential(process.env.MK_CREDS);
  const nc = await connectNats(KERNEL, cred, Subjects.inboxPrefix(KERNEL), { waitMs: FIRST_CONNECT_WAIT_MS });
  natsConnection = nc;
  const sysCred = process.env.MK_SYS_CREDS ? loadCredential(process.env.MK_SYS_CREDS) : undefined;
  const sysNc = sysCred ? await connectNats("kernel-watch", sysCred) : undefined;
  if (!sysNc) log.warn("MK_SYS_CREDS not set: deaths are noticed only when a forward finds no subscriber");
  const wire = new Wire(nc, log, systemClock);

  // Compose: a CPU agent in the shared PID namespace sends the signals; else this process does.
  const control = process.env.MK_CPU_AGENT ? new AgentControl(process.env.MK_CPU_AGENT, undefined, log) : new SignalControl();
  if (priv.kernel.sched.enabled) {
    // A kernel-core that died (SIGKILL) could not continue what it had stopped: this one does.
    // Only user programs are ever stopped by the scheduler: a driver or server found stopped
    // was stopped by someone else (a chaos hang), and stays so.
    const programs = [...priv.services.values()].filter(
      (s) => !s.command && s.io.length === 0 && s.irq.length === 0 && s.placement === "user",
    );
    const thawed = control.thawRun(new Set(programs.map((s) => s.label)));
    if (thawed.length > 0) log.warn({ pids: thawed }, "continued %d processes a previous kernel-core left stopped", thawed.length);
  }
  // Generations go on from the last kernel's marks, so no restart ever reuses `label#g`.
  const stateDir = process.env.MK_STATE_DIR;
  if (!stateDir)
    log.warn("MK_STATE_DIR not set: generation numbers start from 1 again after a kernel-core restart (clients notice the new boot)");
  const generations = stateDir ? generationFile(stateDir, (label) => priv.services.has(label), log) : undefined;
  const kernel = new Kernel({ priv, hw: new NatsHwBus(wire, systemClock), log, clock: systemClock, control, generations });
  kernel.ipc.pathMode = ipcPathMode();
  // However kernel-core ends, nothing it stopped stays frozen.
  process.on("exit", () => kernel.sched.releaseAll());
  const link = new NatsLink({
    nc,
    sysNc,
    account: MK_ACCOUNT,
    ipc: kernel.ipc,
    table: kernel.table,
    log,
    clock: systemClock,
    metrics: kernel.metrics,
    trapTimeoutMs: priv.kernel.trapTimeoutMs,
    deny: (d) => kernel.deny(d),
  });
  kernel.ipc.attach(link);
  await link.start();
  kernel.events.attach((subject, payload) => wire.publish(subject, payload));

  // The HTTP port first: a port already in use stops boot naming the port, before
  // anything else is set up (mkctl reports this kernel's exit, not another's answer).
  const http = buildHttp(kernel, () => !nc.isClosed());
  const port = Number(process.env.MK_HTTP_PORT ?? priv.kernel.httpPort);
  const host = process.env.MK_HTTP_HOST ?? "127.0.0.1";
  try {
    await http.listen({ port, host });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    log.fatal({ port, host, code }, "boot stopped: cannot listen on %s:%d (%s)", host, port, code);
    console.error(`kernel-core: boot stopped: port ${port} on ${host}: ${code === "EADDRINUSE" ? "already in use" : (e as Error).message}`);
    process.exit(ExitStatus.CONFIG);
  }
  log.info({ host, port, boot: kernel.boot }, "kernel-core http on %s:%d", host, port);

  nc.subscribe(Subjects.hwBoot, {
    callback: wire.guard("hw-boot", (m) =>
      kernel.hardwareAnnounced(parseShape({ boot: f.str(32) }, decodeRawArgs(readEnvelope(m).get)).boot),
    ),
  });
  await kernel.bootHardware();
  await startInKernelServices(kernel);
  log.info({ services: priv.services.size }, "kernel-core booted");

  const announce = () => announceBoot(wire, kernel.boot);
  let beacon: Timer | undefined;
  const tick = () => {
    announce();
    // The statistics ride the beacon's second: readers with `metrics` take rates from them.
    wire.publish(StatSubjects.stat, new TextEncoder().encode(JSON.stringify(kernelStat(kernel, bootedAt))));
    beacon = systemClock.setTimeout(tick, KERNEL_BEACON_MS);
  };
  tick();
  watchConnection(nc, log, () => {
    link.reconnected();
    announce();
  });
  if (sysNc) watchConnection(sysNc, log);

  onShutdown(log, async () => {
    beacon?.cancel();
    await http.close();
    await link.stop();
    await kernel.stop();
    await nc.drain().catch(() => undefined);
    await sysNc?.drain().catch(() => undefined);
  });
}

/**
 * Loads every service whose placement is kernel and starts it inside this process. The
 * one place kernel-core loads libsys: to host servers, bound by function calls.
 */
async function startInKernelServices(kernel: Kernel): Promise<void> {
  for (const svc of kernel.priv.services.values()) {
    if (svc.placement !== "kernel") continue;
    const mod = (await import(pathToFileURL(resolve(PROJECT_ROOT, svc.module!)).href)) as { service?: ServiceModule };
    if (!mod.service) throw new LocalError("MK_ERR_SERVICE_MODULE", `${svc.module} does not export a service (ServiceModule)`);
    const transport = new KernelTransport(svc.label, kernel.ipc, log, { source: kernel.events, allowed: svc.events }, (label, err) =>
      halt(kernel, label, err),
    );
    kernel.hosted(
      await startService(mod.service, transport, { log: createLogger(svc.label).child({ placement: "kernel" }), clock: systemClock }),
    );
  }
}

/** kernel-core's connection, for a panic to flush what it published. */
let natsConnection: { flush(): Promise<void> } | undefined;
/** Set once a panic began: kernel-core only says so and ends. */
let halting = false;
/** How long a panic may take to say so (the event, the console) before kernel-core ends regardless. */
const HALT_MS = 2000;

/**
 * A server inside kernel-core crashed: the panic event and the console message, the
 * messages already published flushed to NATS, then exit 70 (EX_SOFTWARE). Once.
 */
function halt(kernel: Kernel, label: string, err: unknown): void {
  if (halting) return;
  halting = true;
  const end = () => process.exit(ExitStatus.SOFTWARE);
  setTimeout(end, HALT_MS);
  void kernel
    .panic(label, err)
    .catch((e: unknown) => log.error({ err: e }, "the panic message did not reach the console"))
    .then(() => natsConnection?.flush())
    .catch(() => undefined)
    .finally(end);
}

// While halting, what the crashed server threw (and anything after it) is not another crash.
for (const what of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(what, (e: unknown) => {
    if (halting) return;
    log.fatal({ err: e }, "kernel-core failed (%s)", what);
    process.exit(exitStatus(e));
  });
}

main().catch((e) => {
  log.fatal({ err: e }, "kernel-core failed");
  process.exit(exitStatus(e));
});
