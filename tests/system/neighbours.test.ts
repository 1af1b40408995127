// A neighbour's restart is survived: the hardware emulator is killed and started again
// (by mkctl), and the system is whole again by itself: no driver is restarted, and what
// was programmed into the machine is programmed again. (nats-server and kernel-core
// restarts are not asserted here yet: both recover in some runs and not in others; see
// the README's limits.)
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cdev, Subjects } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { BdevClient, type RunningService } from "#libsys";
import { pidAlive } from "../../services/mkctl/src/boot.ts";
import { bootTestSystem, ROOT, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let client: RunningService;

beforeAll(async () => {
  ts = await bootTestSystem();
  client = await ts.client();
});
afterAll(async () => {
  await ts?.down();
});

async function mkctl(...args: string[]): Promise<{ stdout: string }> {
  const r = await promisify(execFile)(process.execPath, ["services/mkctl/src/main.ts", ...args, "--run-dir", ts.sys.state.runDir], { cwd: ROOT, timeout: 60_000 });
  ts.sys.reload(); // mkctl recorded the new process
  return r;
}

async function table(): Promise<Record<string, { endpoint: string; state: string }>> {
  return Object.fromEntries((await ts.sys.endpoints()).map((e) => [e.label, e]));
}

async function irqCount(line: number): Promise<number> {
  const text = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
  return Number(new RegExp(`^mk_irqs_total\\{line="${line}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}

describe("neighbours", () => {
  it("hardware emulator killed and started again: the PIT ticks again and tty input works, without restarting tty", async () => {
    const ttyPid = ts.sys.state.pids.tty;
    const hwPid = ts.sys.kill("hardware", "SIGKILL");
    await waitUntil(() => (pidAlive(hwPid) ? undefined : true), { clock: systemClock, deadlineMs: 5000, what: "the emulator's process gone" });
    const { stdout } = await mkctl("start", "hardware");
    expect(stdout).toMatch(/^hardware: started pid \d+/);
    const ticks = await irqCount(0);
    await waitUntil(async () => ((await irqCount(0)) > ticks + 20 ? true : undefined), { clock: systemClock, deadlineMs: 10_000, what: "PIT ticks after the machine restarted" });
    await waitUntil(async () => (await fetch(`${ts.sys.state.kernelHttp}/readyz`)).ok || undefined, { clock: systemClock, deadlineMs: 5000, what: "/readyz" });
    expect(await typeLine("after a machine restart")).toBe("after a machine restart\n");
    expect(ts.sys.state.pids.tty).toBe(ttyPid);
    const disk = new BdevClient(client.sys, "ata");
    expect((await disk.read(0, 8)).length).toBe(4096);
  });
});

/** Types a line on the console and reads it through tty (retrying while the UART is set up again). */
async function typeLine(text: string): Promise<string> {
  const console = await ts.raw("client");
  return waitUntil(async () => {
    const reading = client.sys.sendrec("tty", Cdev.CDEV_READ, { minor: 0, count: 100, timeoutMs: 1500 });
    await new Promise((r) => setTimeout(r, 100));
    console.publish(Subjects.consoleIn, new TextEncoder().encode(`${text}\n`));
    const r = await reading;
    return new TextDecoder().decode(r.data);
  }, { clock: systemClock, deadlineMs: 10_000, what: `the line "${text}" read through tty` });
}
