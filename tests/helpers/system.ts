// Boots a real process-mode mkos for a test file: a privilege table generated from the
// shipped one plus test clients, a temp run directory and disk image, real nats-server.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  archPlacement,
  DEMO_SERVICES,
  type DeriveOptions,
  deriveSystemYaml,
  loadArch,
  ProcessSystem,
} from "../../services/boot/src/index.ts";
import { parseSystemTable } from "../../kernel-core/base/system-table.ts";
import { Subjects } from "#abi";
import {
  connectClient,
  loadChannelCredential,
  loadCredential,
  loadSystemTable,
  createLogger,
  sysGetEndpoints,
  systemClock,
  waitUntil,
  type RunningService,
  NatsTransport,
  startService,
  type ServiceModule,
} from "#libsys";

export const ROOT = join(import.meta.dirname, "../..");

/** Test-only services appended to the shipped table. */
const TEST_SERVICES = `
  client:
    ipc: [ata, tty, echo]
    block: { ata: { raw: rw } }
    input: [tty]
    calls: [getinfo]
    console: true
    events: true
  client2:
    ipc: [ata, tty]
    block: { ata: { raw: rw } }
    calls: [getinfo]
  echo:
    ipc: [client]
  rogue:
    ipc: [echo]
    calls: [devio, vdevio]
    io: ["0x2F8-0x2FF"]
  lpt:
    calls: [irqctl]
    irq: [7]
  sb16:
    calls: [irqctl]
    irq: [5]
`;

export interface TestSystemOptions {
  /** A kernel architecture's placements (etc/arch/NAME.yaml), under those of `placement`. */
  arch?: string;
  placement?: Record<string, "user" | "kernel">;
  sectors?: number;
  env?: Record<string, string>;
  /** More services (YAML entries, two-space indented), after the test ones. */
  services?: string;
  /** A last change to the table's text (e.g. a tighter restart policy). */
  /** Restart policies that replace the shipped ones of the labels named. */
  restart?: DeriveOptions["restart"];
  /** Any further change to the table, on its parsed YAML document. */
  edit?: DeriveOptions["edit"];
  /** The demo's services to start (dashboard, workload, shell); none unless named. */
  demo?: string[];
  /** kernel-core's HTTP port as mkctl up's MKOS_KERNEL_PORT gives it (default: any free one). */
  kernelPort?: number;
}

export interface TestSystem {
  sys: ProcessSystem;
  dir: string;
  client(label?: string): Promise<RunningService>;
  serve(module: ServiceModule): Promise<RunningService>;
  /** A raw NATS connection with a service's own credential (to misbehave with). */
  raw(user: string): Promise<NatsConnection>;
  down(): Promise<void>;
}

export function testSystemYaml(o: TestSystemOptions = {}): string {
  const shipped = readFileSync(join(ROOT, "etc", "system.yaml"), "utf8");
  const unstarted = DEMO_SERVICES.filter((l) => !(o.demo ?? []).includes(l));
  const yaml = deriveSystemYaml(shipped, {
    services: TEST_SERVICES + (o.services ?? ""),
    httpPort: 0,
    sectors: o.sectors ?? 32768,
    placement: o.arch ? { ...archPlacement(parseSystemTable(shipped), loadArch(o.arch)), ...o.placement } : o.placement,
    restart: o.restart,
    unstarted,
    edit: o.edit,
  });
  return yaml;
}

export async function bootTestSystem(o: TestSystemOptions = {}): Promise<TestSystem> {
  const dir = mkdtempSync(join(tmpdir(), "mkos-test-"));
  const system = join(dir, "system.yaml");
  writeFileSync(system, testSystemYaml(o));
  const sys = await ProcessSystem.up({
    system,
    runDir: join(dir, "run"),
    disk: join(dir, "disk.img"),
    env: { MK_LOG_LEVEL: "info", ...o.env },
    kernelPort: o.kernelPort,
  });
  const opened: { stop(): Promise<void> }[] = [];
  const quiet = (label: string) => {
    const log = createLogger(label);
    log.level = "warn";
    return log;
  };
  return {
    sys,
    dir,
    async client(label = "client") {
      const c = await connectClient(label, loadCredential(sys.credFile(label)), { log: quiet(label) });
      opened.push(c);
      return c;
    },
    async serve(module) {
      const file = sys.credFile(module.label);
      const t = await NatsTransport.connect(module.label, loadCredential(file), undefined, loadChannelCredential(file));
      const s = await startService(module, t, { log: quiet(module.label) });
      opened.push(s);
      return s;
    },
    async raw(user) {
      const c = loadCredential(sys.credFile(user));
      // With the kernel's credential, requests are answered where services may answer kernel-core (its answer inbox).
      const inboxPrefix = user === "kernel" ? Subjects.kernelAnswers : `_INBOX.${user}`;
      const nc = await connect({ servers: c.servers, user: c.user, pass: c.password, name: user, inboxPrefix });
      opened.push({ stop: () => nc.close() });
      return nc;
    },
    async down() {
      await Promise.all(opened.map((c) => c.stop().catch(() => undefined)));
      await sys.down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The dashboard's base URL, once it has written it to the run directory (it listens then). */
export async function dashboardBase(ts: TestSystem): Promise<string> {
  return waitUntil(
    async () => {
      try {
        return (JSON.parse(readFileSync(join(ts.sys.state.runDir, "dashboard.json"), "utf8")) as { base: string }).base;
      } catch {
        return undefined;
      }
    },
    { clock: systemClock, deadlineMs: 30_000, what: "the dashboard's dashboard.json" },
  );
}

/** The labels of the shipped privilege table (what an experiment file may name). */
export function shippedLabels(): string[] {
  return [...loadSystemTable(join(ROOT, "etc", "system.yaml")).services.keys()];
}

/** The mkctl command line against a test system, as a user types it: status and output. */
export function runMkctl(ts: TestSystem, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "services/mkctl/src/main.ts"), ...args, "--run-dir", ts.sys.state.runDir], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The ready generation of a label now (0 when none is ready). */
export async function readyGeneration(client: RunningService, label: string): Promise<number> {
  return (await sysGetEndpoints(client.sys)).find((e) => e.label === label && e.state === "ready")?.generation ?? 0;
}

/** Runs `fault` (a kill) and waits for the next ready generation of the label. */
export async function restarted(client: RunningService, label: string, fault: () => void): Promise<void> {
  const before = await readyGeneration(client, label);
  fault();
  await waitUntil(async () => ((await readyGeneration(client, label)) > before ? true : undefined), {
    clock: systemClock,
    deadlineMs: 20_000,
    what: `the next ${label} after ${label}#${before}`,
  });
}

/** A recognisable pattern for sector `lba`: every byte depends on its position. */
export function pattern(lba: number, sectors: number, seed = 0x5a): Uint8Array {
  const out = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) {
    for (let i = 0; i < 512; i++) out[s * 512 + i] = ((lba + s) * 31 + i * 7 + seed) & 0xff;
  }
  return out;
}
