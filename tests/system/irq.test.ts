// Who may set a policy on an IRQ line that already has one, over real NATS. The kernel
// keeps a line's owner by label, and the privilege table gives each line to at most one
// label, so no irqctl can find a line owned by another label: EBUSY (docs/errors.md) is
// never answered. What a second setpolicy meets instead: a superseded incarnation is
// refused EDEADSRCDST before irqctl runs, its successor takes the line over, and a
// service not granted the line gets EPERM. Interrupts (spurious ones the emulator injects)
// go to the live incarnation only.
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE, H, Hw, IRQ_REENABLE, Subjects } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { sysIrqDisable, sysIrqRmPolicy, sysIrqSetPolicy, type ServiceModule } from "#libsys";
import { bootTestSystem, type TestSystem } from "../helpers/system.ts";

const LPT_IRQ = 7; // lpt's line in the test table; sb16 has 5

let ts: TestSystem;
let kernelNc: NatsConnection;

beforeAll(async () => {
  ts = await bootTestSystem();
  kernelNc = await ts.raw("kernel"); // the emulator takes fault requests from the kernel's user only
});
afterAll(async () => {
  await ts?.down();
});

/** A driver with nothing to serve that records its notifications. */
function driver(label: string, seen: { source: string; bits: number }[]): ServiceModule {
  return { label, create: () => ({ handlers: {}, notify: (source, bits) => void seen.push({ source, bits }) }) };
}

let busRequests = 0;

/** The emulator raises one interrupt on `line` as if a device had. */
async function spuriousIrq(line: number): Promise<void> {
  const h = headers();
  h.set(H.type, String(Hw.HW_FAULT));
  h.set(H.args, JSON.stringify({ fault: "spurious-irq", irq: line, count: 1 }));
  // The emulator answers only into the kernel's bus inbox (_INBOX.kernel.hw.>).
  const m = await kernelNc.request(Subjects.hwIo, undefined, {
    headers: h,
    timeout: 5000,
    noMux: true,
    reply: `_INBOX.kernel.hw.test.${++busRequests}`,
  });
  expect(m.headers?.get(H.status)).toBe("0");
}

/** irqctl calls the kernel ran, by result (mk_kernel_calls_total), and its denials by reason. */
async function irqctlCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${ts.sys.state.kernelHttp}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const [, result, n] of text.matchAll(/mk_kernel_calls_total\{call="irqctl",result="(\w+)"\} (\d+)/g)) out[result] = Number(n);
  for (const [, reason, n] of text.matchAll(/mk_denials_total\{call="(?:irqctl|trap)",reason="(irq|stale-source)"\} (\d+)/g))
    out[reason] = Number(n);
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)])
      .filter(([, v]) => v !== 0),
  );
}

const irqFrom = (seen: { source: string; bits: number }[], line: number) =>
  seen.filter((n) => n.source === HARDWARE && n.bits & (1 << line)).length;

describe("irq lines", () => {
  it("irq - a second setpolicy on an owned line is never EBUSY: the superseded owner gets EDEADSRCDST, its successor takes the line, an ungranted service EPERM", async () => {
    const oldSeen: { source: string; bits: number }[] = [];
    const newSeen: { source: string; bits: number }[] = [];
    const before = await irqctlCounts(); // ata and tty claimed their lines at boot
    const old = await ts.serve(driver("lpt", oldSeen));
    await sysIrqSetPolicy(old.sys, LPT_IRQ, IRQ_REENABLE);
    await spuriousIrq(LPT_IRQ);
    await waitUntil(() => (irqFrom(oldSeen, LPT_IRQ) === 1 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: `IRQ ${LPT_IRQ} at ${old.sys.self}`,
    });

    // A new incarnation of lpt; the old one is still connected and still subscribed.
    const cur = await ts.serve(driver("lpt", newSeen));
    expect(cur.sys.generation).toBe(old.sys.generation + 1);
    for (const call of [
      () => sysIrqSetPolicy(old.sys, LPT_IRQ, IRQ_REENABLE),
      () => sysIrqRmPolicy(old.sys, LPT_IRQ),
      () => sysIrqDisable(old.sys, LPT_IRQ),
    ]) {
      await expect(call()).rejects.toMatchObject({ errno: "EDEADSRCDST", code: -105 });
    }
    // The successor's setpolicy finds the line free (the kernel released it when the
    // successor's SYS_HELLO superseded its holder); a second one on the line it now holds
    // replaces the policy: same label, so not EBUSY either.
    await expect(sysIrqSetPolicy(cur.sys, LPT_IRQ, 0)).resolves.toBeUndefined();
    await expect(sysIrqSetPolicy(cur.sys, LPT_IRQ, IRQ_REENABLE)).resolves.toBeUndefined();

    // A service whose table entry lacks the line: EPERM naming it, before ownership is looked at.
    const sb16 = await ts.serve(driver("sb16", []));
    await expect(sysIrqSetPolicy(sb16.sys, LPT_IRQ, 0)).rejects.toMatchObject({ errno: "EPERM", code: -1 });
    await expect(sysIrqSetPolicy(sb16.sys, 5, 0)).resolves.toBeUndefined();

    // Interrupts on the line reach the live incarnation only.
    await spuriousIrq(LPT_IRQ);
    await waitUntil(() => (irqFrom(newSeen, LPT_IRQ) === 1 ? true : undefined), {
      clock: systemClock,
      deadlineMs: 5000,
      what: `IRQ ${LPT_IRQ} at ${cur.sys.self}`,
    });
    expect(irqFrom(oldSeen, LPT_IRQ)).toBe(1);
    // Every irqctl the kernel ran: four set a policy, one was EPERM (the line), none EBUSY;
    // the superseded incarnation's three were refused on the trap path (stale source).
    expect(delta(await irqctlCounts(), before)).toEqual({ ok: 4, EPERM: 1, irq: 1, "stale-source": 3 });
  });
});
