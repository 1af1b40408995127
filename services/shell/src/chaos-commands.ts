// Fault injection from the console, as the chaos runner does it: `chaos LABEL FAULT` arms a
// fault hook in a server (COMMON_FAULT, which only a caller with the chaos privilege may
// send), `chaos hw FAULT` a hardware fault in the emulator (SYS_HWFAULT), and `kill`
// signals a service's process through kernel-core (SYS_KILL), which verifies the process
// is the label's own. rs finds what breaks and restarts it; `services` shows it did.
import { Common, EMPTY, MkError } from "#abi";
import { sysHwfault, sysKill, type KillSignalName } from "#libsys";
import { usage, type Command } from "./command.ts";
import { rsList } from "./info-commands.ts";
import { wholeNumber } from "./parse.ts";

const FAULT_TIMEOUT_MS = 5000;
/** The most a hang may last (COMMON_FAULT's block bound). */
const MAX_HANG_MS = 60_000;
const HW_FAULTS = ["bad-sector", "lost-irq", "spurious-irq", "stuck-bsy", "clear"] as const;
const SERVER_FAULTS = ["kill", "crash", "slow", "corrupt", "hang", "clear"] as const;

const opt = (s: string | undefined, what: string, min: number, max: number, dflt: number) =>
  s === undefined ? dflt : wholeNumber(s, what, min, max);

export const chaos: Command = {
  name: "chaos",
  usage:
    "chaos LABEL crash | slow [MS] [COUNT] | corrupt [COUNT] | hang [MS] | clear;  chaos hw bad-sector LBA [COUNT] | lost-irq|spurious-irq [IRQ] [COUNT] | stuck-bsy [MS] [COUNT] | clear",
  summary: "inject a fault into a server (its fault hooks) or into the hardware",
  async run(args, out, { sys }) {
    const [target, fault, a, b, ...extra] = args;
    if (!target || !fault || extra.length > 0) throw usage(this);
    if (target === "hw") {
      const f = HW_FAULTS.find((x) => x === fault);
      if (!f) throw usage(this, `no hardware fault ${fault}`);
      if (f === "bad-sector") {
        await sysHwfault(sys, { fault: f, lba: wholeNumber(a, "LBA", 0, 2 ** 32 - 1), count: opt(b, "COUNT", 1, 4096, 1) });
      } else if (f === "lost-irq" || f === "spurious-irq") {
        await sysHwfault(sys, { fault: f, irq: opt(a, "IRQ", 0, 15, 14), count: opt(b, "COUNT", 1, 4096, 3) });
      } else if (f === "stuck-bsy") {
        await sysHwfault(sys, {
          fault: f,
          ms: opt(a, "MS", 1, 3_600_000, 500),
          ...(b === undefined ? {} : { count: wholeNumber(b, "COUNT", 0, 4096) }),
        });
      } else {
        if (a !== undefined) throw usage(this);
        await sysHwfault(sys, { fault: "clear" });
      }
      out.line(`hw: ${fault}${f === "clear" ? "ed" : " armed"}`);
      return;
    }
    if (!(SERVER_FAULTS as readonly string[]).includes(fault)) throw usage(this, `no fault ${fault}`);
    switch (fault) {
      case "kill": {
        // The dashboard's chaos panel's kill, here too: SIGKILL through kernel-core (as kill -s KILL).
        if (a !== undefined) throw usage(this);
        const { pid } = await sysKill(sys, target, "KILL");
        out.line(`${target}: SIGKILL sent to pid ${pid}`);
        return;
      }
      case "crash":
        if (a !== undefined) throw usage(this);
        await sys.sendrec(target, Common.COMMON_FAULT, { fault: "crash" }, EMPTY, FAULT_TIMEOUT_MS);
        // The next request it handles throws: send one, or an idle server would never crash.
        await sys.sendrec(target, Common.COMMON_PING, {}, EMPTY, FAULT_TIMEOUT_MS).catch(() => undefined);
        out.line(`${target}: crashed`);
        return;
      case "slow": {
        const ms = opt(a, "MS", 1, MAX_HANG_MS, 200);
        const count = opt(b, "COUNT", 1, 1_000_000, 5);
        await sys.sendrec(target, Common.COMMON_FAULT, { fault: "slow", ms, count }, EMPTY, FAULT_TIMEOUT_MS);
        out.line(`${target}: the next ${count} replies ${ms} ms late`);
        return;
      }
      case "corrupt": {
        if (b !== undefined) throw usage(this);
        const count = opt(a, "COUNT", 1, 1_000_000, 3);
        await sys.sendrec(target, Common.COMMON_FAULT, { fault: "corrupt", count }, EMPTY, FAULT_TIMEOUT_MS);
        out.line(`${target}: the next ${count} replies corrupted`);
        return;
      }
      case "hang": {
        if (b !== undefined) throw usage(this);
        // Longer than two heartbeats (rs's hang detection), as the chaos runner's block.
        const heartbeat = a === undefined ? ((await rsList(sys).catch(() => [])).find((s) => s.label === target)?.heartbeat_ms ?? 1000) : 0;
        const ms = a === undefined ? Math.min(MAX_HANG_MS, 4 * heartbeat + 1000) : wholeNumber(a, "MS", 1, MAX_HANG_MS);
        await sys.sendrec(target, Common.COMMON_FAULT, { fault: "block", ms }, EMPTY, FAULT_TIMEOUT_MS);
        out.line(`${target}: event loop blocked for ${ms} ms`);
        return;
      }
      default:
        if (a !== undefined) throw usage(this);
        await sys.sendrec(target, Common.COMMON_FAULT, { fault: "clear" }, EMPTY, FAULT_TIMEOUT_MS);
        out.line(`${target}: faults cleared`);
    }
  },
};

const SIGNALS: Record<string, KillSignalName> = { KILL: "KILL", "9": "KILL", TERM: "TERM", "15": "TERM", STOP: "STOP", CONT: "CONT" };

function signalName(s: string): KillSignalName {
  const sig = SIGNALS[s.toUpperCase().replace(/^SIG/, "")];
  if (!sig) throw new MkError("EINVAL", `${s}: not a signal kill sends (KILL, TERM, STOP, CONT)`);
  return sig;
}

export const kill: Command = {
  name: "kill",
  usage: "kill [-s SIGNAL | -SIGNAL] LABEL   (SIGNAL: TERM (default), KILL, STOP, CONT)",
  summary: "signal a service's process through kernel-core (rs restarts what dies, finds what hangs)",
  async run(args, out, { sys }) {
    let signal: KillSignalName = "TERM";
    const labels: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === "-s") {
        if (i + 1 >= args.length) throw usage(this, "-s needs a SIGNAL");
        signal = signalName(args[++i]);
      } else if (a.startsWith("-") && a.length > 1) signal = signalName(a.slice(1));
      else labels.push(a);
    }
    if (labels.length !== 1) throw usage(this);
    const { pid } = await sysKill(sys, labels[0], signal);
    out.line(`${labels[0]}: SIG${signal} sent to pid ${pid}`);
  },
};
