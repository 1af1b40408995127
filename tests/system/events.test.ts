// The kernel event stream over real NATS: what rs, chaos, procfs and the dashboard will
// read. A driver SIGKILLed and started again, a client's clean exit, a denial: each is an
// event with its cause, endpoint and pid, numbered without gaps. Reading the stream is a
// privilege the generated NATS permissions enforce; nobody but the kernel may publish it.
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { NatsConnection, Status } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSubjects, SysCall, type KernelEvent } from "#abi";
import { systemClock } from "#base/clock.ts";
import { waitUntil } from "#base/wait.ts";
import { followEvents, type EventFollower } from "#libsys";
import { bootTestSystem, ROOT, type TestSystem } from "../helpers/system.ts";

let ts: TestSystem;
let seen: KernelEvent[] = [];
let follower: EventFollower;

const waitFor = (what: string, pred: (e: KernelEvent) => boolean) =>
  waitUntil(() => seen.find(pred), { clock: systemClock, deadlineMs: 15_000, what });

beforeAll(async () => {
  ts = await bootTestSystem();
  const client = await ts.client("client");
  follower = await followEvents(client.sys, (ev) => void seen.push(ev));
});
afterAll(async () => {
  await ts?.down();
});

describe("events", () => {
  it("events - a driver SIGKILLed is dead (disconnect) with its pid; restarted by rs, started and ready with the next generation", async () => {
    seen = [];
    const before = (await ts.sys.endpoints()).find((e) => e.label === "ata")!;
    const pid = ts.sys.kill("ata");
    const dead = await waitFor("ata dead", (e) => e.kind === "dead" && e.label === "ata");
    expect(dead).toMatchObject({ endpoint: before.endpoint, generation: before.generation, pid, cause: "disconnect", placement: "user" });
    const ready = await waitFor("ata ready", (e) => e.kind === "ready" && e.label === "ata");
    expect(ready).toMatchObject({ generation: before.generation + 1, pid: ts.sys.pidOf("ata") });
    expect(ready.pid).not.toBe(pid);
    const ata = seen.filter((e) => e.label === "ata").map((e) => `${e.kind}:${e.generation}`);
    expect(ata).toEqual([`dead:${before.generation}`, `started:${before.generation + 1}`, `ready:${before.generation + 1}`]);
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i)); // no gaps
    expect(new Set(seen.map((e) => e.boot)).size).toBe(1);
    expect(follower.missed).toBe(0);
  });

  it("events - a client's clean stop is dead with cause exit; a denial names caller, refused call and errno", async () => {
    seen = [];
    const c2 = await ts.client("client2");
    const started = await waitFor("client2 ready", (e) => e.kind === "ready" && e.label === "client2");
    await expect(c2.sys.kernelCall(SysCall.SYS_DEVIO, { op: "inb", port: 0x1f7 })).rejects.toMatchObject({ errno: "ECALLDENIED" });
    expect(await waitFor("the denial", (e) => e.kind === "denied")).toMatchObject({
      endpoint: started.endpoint,
      denied: "call",
      target: "devio",
      errno: "ECALLDENIED",
    });
    await c2.stop();
    expect(await waitFor("client2 dead", (e) => e.kind === "dead" && e.label === "client2")).toMatchObject({
      endpoint: started.endpoint,
      cause: "exit",
    });
  });

  it("events - without the events privilege the stream is refused (ECALLDENIED); nobody but the kernel may publish on it", async () => {
    const c2 = await ts.client("client2");
    await expect(followEvents(c2.sys, () => undefined)).rejects.toMatchObject({ errno: "ECALLDENIED" });
    // Forged events, from a service with and one without the privilege, reach no reader.
    seen = [];
    const errs: string[] = [];
    const forgers: NatsConnection[] = [await ts.raw("client"), await ts.raw("rogue")];
    for (const nc of forgers) {
      void (async () => {
        for await (const s of nc.status() as AsyncIterable<Status>)
          if (s.type === "error") errs.push(String((s as { error?: Error }).error?.message));
      })();
      // A well-formed event: a reader would take it if the server let it through.
      const forged = {
        kind: "dead",
        boot: "forged",
        seq: 1,
        ts: 1,
        at: new Date().toISOString(),
        endpoint: "ata#1",
        label: "ata",
        generation: 1,
        placement: "user",
        host: "h",
        pid: 1,
        cause: "exit",
      };
      nc.publish(EventSubjects.event("dead", "ata"), new TextEncoder().encode(JSON.stringify(forged)));
      await nc.flush();
    }
    await waitUntil(() => (errs.length >= 2 ? true : undefined), { clock: systemClock, deadlineMs: 5000, what: "both publishes refused" });
    expect(errs.every((e) => /permissions violation/i.test(e) && e.includes("mk.ev.dead.ata"))).toBe(true);
    // A kernel event after the forgeries is the next one: nothing else arrived in between.
    const c3 = await ts.client("client2");
    await waitFor("client2 ready", (e) => e.kind === "ready" && e.label === "client2");
    expect(seen.every((e) => e.boot === seen[0].boot && e.label === "client2")).toBe(true);
    await c3.stop();
  });

  it("events - mkctl events prints the stream as JSON lines, N of them", async () => {
    const child = spawn(
      join(ROOT, "services/mkctl/bin/mkctl"),
      ["events", "--json", "--count", "3", "--for", "20000", "--run-dir", ts.sys.state.runDir],
      { cwd: ROOT },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    await waitUntil(() => (err.includes("following mk.ev.>") ? true : undefined), {
      clock: systemClock,
      deadlineMs: 15_000,
      what: "mkctl events following",
    });
    const c = await ts.client("client2");
    await c.stop();
    expect(await exited).toBe(0);
    const lines = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as KernelEvent);
    expect(lines.map((e) => `${e.kind}:${e.label}`)).toEqual(["started:client2", "ready:client2", "dead:client2"]);
    expect(lines[2]).toMatchObject({ cause: "exit", endpoint: lines[0].endpoint });
  });
});
