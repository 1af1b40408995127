// mkctl top and mkctl nice: the kernel's process table, live, and a label's nice value.
import { KERNEL, MkError, NICE_MAX, NICE_MIN, type ProcessInfo, type SchedSummary } from "#abi";
import { LocalError } from "#base/errors.ts";
import { sysGetProcesses, sysNice, type RunningService } from "#libsys";
import { textTableLines } from "#base/text-table.ts";

export const SCHED_USAGE = `       mkctl top [--json] [--count N] [--interval MS] [--run-dir DIR]   (the process table, live)
       mkctl nice LABEL N [--run-dir DIR]   (N from ${NICE_MIN} to ${NICE_MAX}; the fair policy turns it into a weight)`;

const HEAD = ["LABEL", "PID", "S", "STATE", "PRI", "QUANTUM", "NICE", "CPU%", "CPU_MS", "VOL", "INVOL", "IN", "OUT"];

function topTable(processes: ProcessInfo[], s: SchedSummary): string {
  const who =
    s.policy === "server"
      ? "the sched server's policy"
      : s.policy_suspended_ms
        ? `the kernel's round robin (sched's answers were absurd: asked again in ${Math.ceil(s.policy_suspended_ms / 1000)} s)`
        : "the kernel's round robin (no answer from sched yet)";
  const head = `mkos scheduler: ${s.enabled ? "on" : "off"}, ${s.cpus} cpu${s.cpus === 1 ? "" : "s"}, ${who}, ${s.ticks} ticks at ${s.pit_hz} Hz, ${s.stops} stops, ${s.continues} continues, ${s.refused} refused, ${s.held_too_long} held too long`;
  const body = processes.map((p) => [
    p.label,
    String(p.pid),
    p.stat,
    p.state,
    String(p.priority),
    `${p.quantum_ms}ms`,
    String(p.nice),
    p.cpu_pct.toFixed(1),
    String(p.cpu_ms),
    String(p.voluntary),
    String(p.involuntary),
    String(p.pending_in),
    String(p.waiting_out),
  ]);
  return [head, "", ...textTableLines(HEAD, body)].join("\n");
}

function positive(name: string, v: string | undefined, dflt: number | undefined, max: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new LocalError("MK_ERR_USAGE", `mkctl top --${name} needs an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * `mkctl top`: redraws every interval until Ctrl-C (or N samples); `--json` prints one
 * sample and ends. Not a terminal: each sample is printed after the last.
 */
export async function topCommand(client: RunningService, o: { json: boolean; count?: string; interval?: string }): Promise<void> {
  const interval = positive("interval", o.interval, 1000, 3_600_000)!;
  const count = positive("count", o.count, o.json ? 1 : undefined, 1_000_000);
  let stop = false;
  let wake = () => undefined as undefined;
  const onSig = () => {
    stop = true;
    wake();
  };
  process.once("SIGINT", onSig);
  try {
    for (let i = 0; count === undefined || i < count; i++) {
      const { processes, sched } = await sysGetProcesses(client.sys);
      if (o.json) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), sched, processes })}\n`);
      else process.stdout.write(`${(process.stdout.isTTY ? "\x1b[H\x1b[2J" : i > 0 ? "\n" : "") + topTable(processes, sched)}\n`);
      if (stop || (count !== undefined && i + 1 >= count)) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, interval);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      if (stop) break;
    }
  } finally {
    process.off("SIGINT", onSig);
  }
}

/** `mkctl nice LABEL N`. */
export async function niceCommand(client: RunningService, label: string | undefined, value: string | undefined): Promise<void> {
  if (!label || value === undefined) throw new LocalError("MK_ERR_USAGE", "nice needs a LABEL and a value N (e.g. mkctl nice shell -5)");
  if (label === KERNEL || label === "kernel-core")
    throw new LocalError("MK_ERR_USAGE", "kernel-core is not scheduled: it has no nice value (name a service or user program)");
  const n = Number(value);
  if (!/^-?[0-9]+$/.test(value) || n < NICE_MIN || n > NICE_MAX)
    throw new LocalError("MK_ERR_USAGE", `nice ${JSON.stringify(value)}: N is an integer from ${NICE_MIN} to ${NICE_MAX}`);
  try {
    await sysNice(client.sys, label, n);
  } catch (e) {
    if (e instanceof MkError && e.errno === "EBADSRCDST")
      throw new LocalError("MK_ERR_USAGE", `nice: no service or program ${JSON.stringify(label)} in the privilege table`, { cause: e });
    throw e;
  }
  console.log(`${label}: nice ${n} (every incarnation of ${label} from now on; the policy applies it at the next quantum)`);
}
