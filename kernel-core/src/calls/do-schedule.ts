// SYS_SCHEDULE: the sched server sets an endpoint's queue and quantum (MINIX
// sys_schedule). Out of range (a queue outside 0-15 or above the process's ceiling, a
// quantum outside 1 ms-10 s) or past a driver's or server's floor (below user programs, a
// quantum under SYSTEM_QUANTUM_MIN_MS) is EINVAL, and the process keeps what it had; the
// refusal is logged and counted. Too many refusals and the kernel schedules on its own for
// a while (EAGAIN meanwhile): sched/policy-guard.ts.
import type { SysCall } from "#abi";
import { MkError } from "#abi";
import type { KernelCall } from "./context.ts";

export const doSchedule: KernelCall<typeof SysCall.SYS_SCHEDULE, "log" | "logLimiter" | "sched"> = (k, c) => {
  const { endpoint, priority, quantum_ms } = c.args;
  try {
    k.sched.schedule(endpoint, priority, quantum_ms, c.caller?.key);
  } catch (e) {
    if (e instanceof MkError && (e.errno === "EINVAL" || e.errno === "EAGAIN")) {
      k.logLimiter.allow(k.log, `schedule:${c.label}`, () =>
        k.log.warn({ caller: c.caller?.key, endpoint, priority, quantum_ms }, "SYS_SCHEDULE refused: %s", e.message),
      );
    }
    throw e;
  }
  return { args: {} };
};
