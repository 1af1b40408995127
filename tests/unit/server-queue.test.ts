// ServerQueue, the receive side of every server: one caller's flood never starves
// another's request, every bound refuses with EAGAIN at once (naming which), and nothing
// queued is lost or run twice. Jobs are promises the test settles by hand: no sleeping.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ServerQueue } from "../../services/libsys/src/server-queue.ts";

/** A job the test finishes when it wants: started in order, settled by hand. */
function harness(q: ServerQueue) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const push = (caller: string, id: string, bytes = 0) =>
    q.push(caller, bytes, () => {
      started.push(id);
      return new Promise<string>((r) => finish.set(id, () => r(id)));
    });
  const done = async (id: string) => {
    finish.get(id)!();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  return { started, push, done };
}

describe("server queue", () => {
  it("server queue - a flood from one caller waits its turn: another caller's request runs next, round robin", async () => {
    const q = new ServerQueue({ concurrency: 1 });
    const h = harness(q);
    const results: Promise<string>[] = [];
    for (let i = 0; i < 5; i++) results.push(h.push("flooder", `f${i}`));
    results.push(h.push("victim", "v0"));
    expect(h.started).toEqual(["f0"]);
    expect(q.length).toBe(5);
    await h.done("f0");
    expect(h.started).toEqual(["f0", "f1"]); // flooder was first in line
    await h.done("f1");
    expect(h.started).toEqual(["f0", "f1", "v0"]); // then the victim, not f2
    for (const id of ["v0", "f2", "f3", "f4"]) await h.done(id);
    expect(await Promise.all(results)).toEqual(["f0", "f1", "f2", "f3", "f4", "v0"]);
    expect(q.length).toBe(0);
  });

  it("server queue - no caller holds every slot: with concurrency 3, one caller runs at most 2 at once", async () => {
    const q = new ServerQueue({ concurrency: 3 });
    const h = harness(q);
    for (let i = 0; i < 4; i++) void h.push("a", `a${i}`);
    expect(h.started).toEqual(["a0", "a1"]);
    void h.push("b", "b0");
    await new Promise((r) => setImmediate(r)); // a queued job starts on the next microtask
    expect(h.started).toEqual(["a0", "a1", "b0"]);
    await h.done("a0");
    expect(h.started).toEqual(["a0", "a1", "b0", "a2"]);
  });

  it("server queue - past each bound EAGAIN at once, naming the bound; what was queued still runs", async () => {
    const q = new ServerQueue({ concurrency: 1, perCaller: 2, perCallerBytes: 100, total: 3, totalBytes: 1000 });
    const h = harness(q);
    void h.push("a", "running"); // runs: not counted as queued
    void h.push("a", "q1", 10);
    void h.push("a", "q2", 10);
    expect(() => h.push("a", "over", 1)).toThrow(
      expect.objectContaining({ errno: "EAGAIN", detail: { arg: "requests", label: "a", limit: 2, got: 2 } }),
    );
    expect(() => h.push("b", "big", 101)).toThrow(
      expect.objectContaining({ errno: "EAGAIN", detail: { arg: "bytes", label: "b", limit: 100, got: 0 } }),
    );
    void h.push("b", "q3");
    expect(() => h.push("c", "full")).toThrow(expect.objectContaining({ errno: "EAGAIN", detail: { arg: "queue", limit: 3, got: 3 } }));
    for (const id of ["running", "q1", "q3", "q2"]) await h.done(id);
    expect(h.started).toEqual(["running", "q1", "q3", "q2"]);
  });

  it("server queue - a job that throws or rejects frees its slot; the next one runs (fast-check: every accepted job runs exactly once)", async () => {
    const q = new ServerQueue({ concurrency: 1 });
    const first = q.push("a", 0, () => {
      throw new Error("boom");
    });
    await expect(first).rejects.toThrow();
    await expect(q.push("a", 0, async () => "after")).resolves.toBe("after");

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.boolean()), { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (jobs, concurrency) => {
          const q2 = new ServerQueue({ concurrency, perCaller: 1000, total: 1000 });
          const ran = new Map<number, number>();
          const all = jobs.map(([caller, fails], i) =>
            q2
              .push(caller, 0, async () => {
                ran.set(i, (ran.get(i) ?? 0) + 1);
                await Promise.resolve();
                if (fails) throw new Error(`job ${i}`);
                return i;
              })
              .then(
                (v) => v,
                () => -1,
              ),
          );
          await Promise.all(all);
          expect([...ran.keys()].sort((x, y) => x - y)).toEqual(jobs.map((_, i) => i));
          expect([...ran.values()].every((n) => n === 1)).toBe(true);
          expect(q2.length).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
