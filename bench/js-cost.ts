// npm run bench:js [-- --json] [-- --requests N]
// How much of a crossing is JavaScript: every party of a path (client, kernel-core,
// emulator, driver, null server) runs its real code in this one process over an in-memory
// bus (bench/memory-bus.ts), so no socket, no syscall and no other process is timed. The
// figure is all parties' JavaScript per request, including nats.js's own message handling
// but not its socket I/O; the best of three rounds, as CPU cost is what is wanted, not
// this machine's noise. Set it beside bench:ipc's latency and CPU per process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bdev, Common, KERNEL_BEACON_MS } from "#abi";
import { NatsHwBus } from "../kernel-core/src/hw/hw-bus.ts";
import { NatsLink } from "../kernel-core/src/ipc/nats-link.ts";
import { Kernel } from "../kernel-core/src/kernel.ts";
import { announceBoot } from "../kernel-core/src/events/boot-announce.ts";
import { MK_ACCOUNT } from "#base/credentials.ts";
import { parseSystemTable } from "#base/system-table.ts";
import { HwServer, Machine } from "../hardware-emulator/src/index.ts";
import { service as ata } from "../services/drivers/ata/src/index.ts";
import { createLogger, NatsTransport, startService, systemClock } from "#libsys";
import { Envelope } from "#base/nats-envelope.ts";
import { RequestMux } from "#base/request-mux.ts";
import { Wire } from "#base/wire.ts";
import { benchSystemYaml } from "./measure.ts";
import { MemoryBus } from "./memory-bus.ts";
import { RAW_SUBJECT } from "./raw-subject.ts";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, requests: { type: "string", default: "20000" } } });
const requests = Number(values.requests);
if (!Number.isInteger(requests) || requests < 100 || requests > 1_000_000) {
  console.error(`bench:js: --requests must be a whole number from 100 to 1000000, got ${JSON.stringify(values.requests)}`);
  process.exit(2);
}

const log = createLogger("bench-js");
log.level = "warn";
const bus = new MemoryBus();
const dir = mkdtempSync(join(tmpdir(), "mkos-bench-js-"));
try {
  const priv = parseSystemTable(benchSystemYaml(true));
  const hwWire = new Wire(bus.connect(), log, systemClock);
  const machine = new Machine({
    clock: systemClock,
    diskImage: join(dir, "disk.img"),
    diskSectors: 16384,
    irq: (line) => void hwWire.publish(`mk.hw.irq.${line}`, undefined),
    console: () => undefined,
  });
  await new HwServer(hwWire, machine, log).start();
  const kNc = bus.connect();
  const kernel = new Kernel({ priv, hw: new NatsHwBus(new Wire(kNc, log, systemClock), systemClock), log, clock: systemClock });
  const link = new NatsLink({
    nc: kNc,
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
  await kernel.bootHardware();
  // kernel-core's boot announcement, as its main.ts sends it every KERNEL_BEACON_MS: without
  // it every client takes the kernel for gone after KERNEL_SILENT_MS and a long run fails.
  const kWire = new Wire(kNc, log, systemClock);
  const announce = () => announceBoot(kWire, kernel.boot);
  announce();
  const beacon = setInterval(announce, KERNEL_BEACON_MS);
  beacon.unref();
  await startService(ata, new NatsTransport("ata", bus.connect()), { log });
  const echoNc = bus.connect();
  echoNc.subscribe(RAW_SUBJECT, { callback: (_e, m) => void m.respond(m.data) });
  await startService({ label: "bench-echo", create: () => ({ handlers: {} }) }, new NatsTransport("bench-echo", echoNc), { log });
  const client = await startService(
    { label: "bench-client", create: () => ({ handlers: {} }) },
    new NatsTransport("bench-client", bus.connect()),
    { log },
  );
  const raw = new RequestMux(new Wire(bus.connect(), log, systemClock), "_INBOX.kernel", systemClock);
  raw.start();
  await client.sys.sendrec("ata", Bdev.BDEV_WRITE, { minor: 0, lba: 0, count: 8 }, new Uint8Array(4096).fill(7));

  const empty = new Uint8Array(0);
  const paths: [string, () => Promise<unknown>][] = [
    ["nats-raw", () => raw.request(RAW_SUBJECT, empty, new Envelope(), 5000)],
    ["kernel-sendrec", () => client.sys.sendrec("bench-echo", Common.COMMON_PING, {})],
    ["ata-read-4k", () => client.sys.sendrec("ata", Bdev.BDEV_READ, { minor: 0, lba: 0, count: 8 })],
  ];
  const rows: { path: string; js_us: number }[] = [];
  for (const [path, op] of paths) {
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < requests; i++) await op();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / requests);
    }
    rows.push({ path, js_us: +best.toFixed(2) });
  }
  machine.close();
  if (values.json) {
    console.log(JSON.stringify({ rows }));
  } else {
    console.log(`mkos JavaScript per request, all parties in one process, no sockets: best of 3 x ${requests}, node ${process.version}`);
    console.log("path            JS us per request");
    console.log("--------------  -----------------");
    for (const r of rows) console.log(`${r.path.padEnd(14)}  ${r.js_us.toFixed(1)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
