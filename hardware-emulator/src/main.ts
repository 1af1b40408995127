// hardware-emulator process entry: builds the machine from the privilege table's
// hardware section (disk image, size), connects as the "hardware" NATS user, serves the
// bus until SIGTERM. The disk image file outlives every restart of every process. It
// rides out NATS outages of any length, and announces each start so the kernel
// re-programs what it had set up (the PIT, and the drivers their devices).
import { resolve } from "node:path";
import Fastify from "fastify";
import { Subjects } from "#abi";
import { systemClock } from "#base/clock.ts";
import { HARDWARE_USER, loadCredential } from "#base/credentials.ts";
import { exitStatus } from "#base/errors.ts";
import { createLogger } from "#base/log.ts";
import { connectNats, FIRST_CONNECT_WAIT_MS, watchConnection } from "#base/nats-connect.ts";
import { onShutdown } from "#base/shutdown.ts";
import { loadSystemTable } from "#base/system-table.ts";
import { Wire } from "#base/wire.ts";
import { Machine } from "./bus.ts";
import { HwServer } from "./server.ts";

const log = createLogger("hardware-emulator", HARDWARE_USER);

async function main(): Promise<void> {
  const table = loadSystemTable(process.env.MK_SYSTEM ?? "etc/system.yaml");
  const image = resolve(process.env.MK_DISK ?? table.hardware.diskImage);
  const cred = loadCredential(process.env.MK_CREDS);
  const nc = await connectNats(HARDWARE_USER, cred, undefined, { waitMs: FIRST_CONNECT_WAIT_MS });
  const wire = new Wire(nc, log, systemClock);
  let server: HwServer | undefined;
  const machine = new Machine({
    clock: systemClock,
    diskImage: image,
    diskSectors: table.hardware.diskSectors,
    irq: (line) => void wire.publish(Subjects.hwIrq(line), undefined),
    console: (bytes) => server?.consoleOut(bytes),
  });
  server = new HwServer(wire, machine, log);
  await server.start();
  watchConnection(nc, log, () => server?.announce());
  // Liveness for container healthchecks: the bus is subscribed and the disk image open.
  const http = Fastify({ logger: false });
  http.get("/healthz", async () => ({ status: "ok", boot: server?.boot, ioOps: machine.ioOps, ticks: machine.pit.ticks }));
  await http.listen({ port: Number(process.env.MK_HTTP_PORT ?? 0), host: process.env.MK_HTTP_HOST ?? "127.0.0.1" });
  log.info(
    { image, sectors: table.hardware.diskSectors, boot: server.boot },
    "hardware emulator up: ata0 %d sectors, uart0, pit, rtc",
    table.hardware.diskSectors,
  );

  onShutdown(log, async () => {
    await http.close();
    await server?.stop();
    machine.close();
    await nc.drain().catch(() => undefined);
  });
}

main().catch((e) => {
  log.fatal({ err: e }, "hardware emulator failed");
  process.exit(exitStatus(e));
});
