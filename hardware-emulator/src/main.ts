// hardware-emulator process entry: builds the machine from the privilege table's
// hardware section (disk image, size), connects as the "hardware" NATS user, serves the
// bus until SIGTERM. The disk image file outlives every restart of every process.
import { resolve } from "node:path";
import { connect } from "@nats-io/transport-node";
import Fastify from "fastify";
import { Subjects } from "#abi";
import { loadSystemTable } from "#base/system-table.ts";
import { systemClock } from "#base/clock.ts";
import { loadCredential } from "#base/credentials.ts";
import { createLogger } from "#base/log.ts";
import { onShutdown } from "#base/shutdown.ts";
import { Machine } from "./bus.ts";
import { HwServer } from "./server.ts";

const log = createLogger("hardware-emulator", "hardware");

async function main(): Promise<void> {
  const table = loadSystemTable(process.env.MK_SYSTEM ?? "etc/system.yaml");
  const image = resolve(process.env.MK_DISK ?? table.hardware.diskImage);
  const cred = loadCredential(process.env.MK_CREDS);
  const nc = await connect({ servers: cred.servers, user: cred.user, pass: cred.password, name: "hardware", maxReconnectAttempts: -1 });
  const decoder = new TextDecoder();
  const machine = new Machine({
    clock: systemClock,
    diskImage: image,
    diskSectors: table.hardware.diskSectors,
    irq: (line) => nc.publish(Subjects.hwIrq(line)),
    console: (bytes) => {
      nc.publish(Subjects.consoleOut, bytes);
      log.info({ console: decoder.decode(bytes).replace(/\n$/, "") }, "console");
    },
  });
  const server = new HwServer(nc, machine, log);
  await server.start();
  // Liveness for container healthchecks: the bus is subscribed and the disk image open.
  const http = Fastify({ logger: false });
  http.get("/healthz", async () => ({ status: "ok", ioOps: machine.ioOps, ticks: machine.pit.ticks }));
  await http.listen({ port: Number(process.env.MK_HTTP_PORT ?? 0), host: process.env.MK_HTTP_HOST ?? "127.0.0.1" });
  log.info({ image, sectors: table.hardware.diskSectors }, "hardware emulator up: ata0 %d sectors, uart0, pit, rtc", table.hardware.diskSectors);

  onShutdown(log, async () => {
    await http.close();
    await server.stop();
    machine.close();
    await nc.drain().catch(() => undefined);
  });
}

main().catch((e) => {
  log.fatal({ err: e }, "hardware emulator failed");
  process.exit(1);
});
