// kernel-core process entry. Loads and validates the privilege table (a bad table stops
// boot), connects to NATS as the kernel (and as the system-account watcher), programs
// the hardware, starts in-kernel servers, then serves traps and HTTP until SIGTERM.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { connect } from "@nats-io/transport-node";
import { KERNEL, Subjects } from "#abi";
import { systemClock } from "#base/clock.ts";
import { loadCredential, MK_ACCOUNT } from "#base/credentials.ts";
import { createLogger } from "#base/log.ts";
import { onShutdown } from "#base/shutdown.ts";
import { NatsHwBus } from "./hw/hw-bus.ts";
import { buildHttp } from "./http/server.ts";
import { NatsLink } from "./ipc/nats-link.ts";
import { KernelTransport } from "./ipc/kernel-transport.ts";
import { Kernel, PROJECT_ROOT } from "./kernel.ts";
import { startService, type ServiceModule } from "#libsys";
import { loadSystemTable, SystemTableError } from "#base/system-table.ts";

const log = createLogger("kernel-core", `${KERNEL}#1`);

async function main(): Promise<void> {
  const file = process.env.MK_SYSTEM ?? "etc/system.yaml";
  let priv;
  try {
    priv = loadSystemTable(file);
  } catch (e) {
    if (e instanceof SystemTableError) {
      log.fatal({ file }, "boot stopped: %s", e.message);
      console.error(`kernel-core: boot stopped: ${e.message}`);
      process.exit(78);
    }
    throw e;
  }
  const cred = loadCredential(process.env.MK_CREDS);
  const nc = await connect({ servers: cred.servers, user: cred.user, pass: cred.password, name: KERNEL, inboxPrefix: Subjects.inboxPrefix(KERNEL), maxReconnectAttempts: -1 });
  const sysCred = process.env.MK_SYS_CREDS ? loadCredential(process.env.MK_SYS_CREDS) : undefined;
  const sysNc = sysCred ? await connect({ servers: sysCred.servers, user: sysCred.user, pass: sysCred.password, name: "kernel-watch", maxReconnectAttempts: -1 }) : undefined;
  if (!sysNc) log.warn("MK_SYS_CREDS not set: deaths are noticed only when a forward finds no subscriber");

  const kernel = new Kernel({ priv, hw: new NatsHwBus(nc), log, clock: systemClock });
  const link = new NatsLink({ nc, sysNc, account: MK_ACCOUNT, ipc: kernel.ipc, table: kernel.table, log, clock: systemClock, metrics: kernel.metrics, trapTimeoutMs: priv.kernel.trapTimeoutMs });
  kernel.ipc.attach(link);
  await link.start();

  const http = buildHttp(kernel, () => !nc.isClosed());
  const port = Number(process.env.MK_HTTP_PORT ?? priv.kernel.httpPort);
  const host = process.env.MK_HTTP_HOST ?? "127.0.0.1";
  const address = await http.listen({ port, host });
  log.info({ address }, "kernel-core http on %s", address);

  await kernel.bootHardware();
  await startInKernelServices(kernel);
  log.info({ services: priv.services.size }, "kernel-core booted");

  onShutdown(log, async () => {
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
    if (!mod.service) throw new Error(`${svc.module} does not export a service (ServiceModule)`);
    const transport = new KernelTransport(svc.label, kernel.ipc, log);
    kernel.hosted(await startService(mod.service, transport, { log: createLogger(svc.label).child({ placement: "kernel" }), clock: systemClock }));
  }
}

main().catch((e) => {
  log.fatal({ err: e }, "kernel-core failed");
  process.exit(1);
});
