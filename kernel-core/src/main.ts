// kernel-core process entry. Loads and validates the privilege table (a bad table stops
// boot), connects to NATS as the kernel (and as the system-account watcher), programs
// the hardware, starts in-kernel servers, then serves traps and HTTP until SIGTERM.
import { connect } from "@nats-io/transport-node";
import { KERNEL, Subjects } from "../abi/index.ts";
import { systemClock } from "../../services/libsys/src/clock.ts";
import { loadCredential } from "../../services/libsys/src/credentials.ts";
import { createLogger } from "../../services/libsys/src/log.ts";
import { onShutdown } from "../../services/libsys/src/shutdown.ts";
import { NatsHwBus } from "./hw/hw-bus.ts";
import { buildHttp } from "./http/server.ts";
import { NatsLink } from "./ipc/nats-link.ts";
import { Kernel } from "./kernel.ts";
import { MK_ACCOUNT } from "./priv/nats-config.ts";
import { loadSystemTable, SystemTableError } from "./priv/system-table.ts";

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
  await kernel.startInKernelServices();
  log.info({ services: priv.services.size }, "kernel-core booted");

  onShutdown(log, async () => {
    await http.close();
    await link.stop();
    await kernel.stop();
    await nc.drain().catch(() => undefined);
    await sysNc?.drain().catch(() => undefined);
  });
}

main().catch((e) => {
  log.fatal({ err: e }, "kernel-core failed");
  process.exit(1);
});
