// The kernel's admission of traps: one caller's flood is queued (and past its bound
// dropped) before any work, and every other caller's trap starts within a turn or two.
import { describe, expect, it } from "vitest";
import { PER_CALLER_QUEUE, PER_CALLER_QUEUE_BYTES, TrapQueue, TURN_BUDGET } from "../../kernel-core/src/ipc/trap-queue.ts";

/** A queue whose turns run when the test says. */
function queue() {
  const turns: (() => void)[] = [];
  const started: string[] = [];
  const dropped: string[] = [];
  const q = new TrapQueue<string>({
    start: (label, m) => void started.push(`${label}:${m}`),
    dropped: (label) => void dropped.push(label),
    later: (fn) => void turns.push(fn),
  });
  const turn = () => turns.shift()?.();
  return { q, started, dropped, turn, turns };
}

describe("trap admission", () => {
  it("trap queue - a flood of 10,000 traps from one caller delays another caller's trap by one turn at most, and is dropped past its bound", () => {
    const t = queue();
    for (let i = 0; i < 10_000; i++) t.q.push("spin", String(i));
    t.q.push("rs", "ping");
    // What fit in this turn started at once; the rest waits, at most PER_CALLER_QUEUE of it.
    expect(t.started.length).toBe(TURN_BUDGET);
    expect(t.dropped.length).toBe(10_000 - TURN_BUDGET - PER_CALLER_QUEUE);
    expect(t.q.length).toBe(PER_CALLER_QUEUE + 1);
    t.turn();
    expect(t.started.slice(TURN_BUDGET, TURN_BUDGET + 2)).toEqual([`spin:${TURN_BUDGET}`, "rs:ping"]);
    while (t.turns.length > 0) t.turn();
    expect(t.q.length).toBe(0);
    expect(t.started.length).toBe(TURN_BUDGET + PER_CALLER_QUEUE + 1);
  });

  it("trap queue - one caller's traps start in the order sent; with nothing waiting a trap starts at once", () => {
    const t = queue();
    t.q.push("vfs", "a");
    expect(t.started).toEqual(["vfs:a"]);
    for (let i = 0; i < TURN_BUDGET + 10; i++) t.q.push("vfs", String(i));
    while (t.turns.length > 0) t.turn();
    expect(t.started.slice(1)).toEqual(Array.from({ length: TURN_BUDGET + 10 }, (_, i) => `vfs:${i}`));
    expect(t.dropped).toEqual([]);
  });

  it("trap queue - a caller's waiting bodies are bounded too: past PER_CALLER_QUEUE_BYTES the next is dropped, whatever the count", () => {
    const turns: (() => void)[] = [];
    const dropped: string[] = [];
    const q = new TrapQueue<number>({
      start: () => undefined,
      dropped: (label) => void dropped.push(label),
      later: (fn) => void turns.push(fn),
      size: (n) => n,
    });
    for (let i = 0; i < TURN_BUDGET; i++) q.push("spin", 0); // the turn's budget, spent
    const mb = 1 << 20;
    for (let i = 0; i < 10; i++) q.push("spin", mb);
    expect(q.length).toBe(PER_CALLER_QUEUE_BYTES / mb);
    expect(dropped.length).toBe(10 - PER_CALLER_QUEUE_BYTES / mb);
  });
});
