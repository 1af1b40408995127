// The scheduling policies, as pure functions of what the kernel reports when a quantum
// runs out (SCHED_NO_QUANTUM). The kernel holds every answer to its bounds (a queue no
// higher than the process's ceiling, a quantum of 1 ms to 10 s; a driver or server above
// user programs with a quantum of SYSTEM_QUANTUM_MIN_MS or more).
import { niceWeight, SchedQueue, SYSTEM_QUANTUM_MIN_MS, type ReqArgs, type Sched } from "#abi";

export type NoQuantum = ReqArgs<typeof Sched.SCHED_NO_QUANTUM>;
export const POLICIES = ["minix", "fair"] as const;
export type PolicyName = (typeof POLICIES)[number];

export interface Decision {
  priority: number;
  quantum_ms: number;
}

const FAIR_MIN_MS = 10;
const FAIR_MAX_MS = 2000;

/**
 * MINIX's policy, for user programs: one that used its whole quantum without blocking
 * sinks one queue (to the lowest); one that blocked since rises one, up to its ceiling.
 * A positive nice lowers the ceiling one queue per 5. The quantum stays the process's
 * own. Drivers and servers keep their class's queue (MINIX schedules system processes
 * at fixed priorities); the kernel raises a sunk process one queue every 5 s.
 */
export function minix(m: NoQuantum): Decision {
  if (m.class !== "user") return { priority: m.base_priority, quantum_ms: m.base_quantum_ms };
  const ceiling = Math.min(SchedQueue.LOWEST, m.base_priority + Math.max(0, Math.ceil(m.nice / 5)));
  const priority = m.blocked > 0 ? Math.max(ceiling, m.priority - 1) : Math.min(SchedQueue.LOWEST, Math.max(ceiling, m.priority + 1));
  return { priority, quantum_ms: m.base_quantum_ms };
}

/**
 * Weighted fair share: every process of a class stays in its queue and gets its own
 * quantum (the privilege table's quantum_ms, 200 ms by default) times its weight over
 * 1024 (Linux's table: nice 0 is 1024, each step about 1.25x), so CPU-bound processes of
 * one queue share the CPU in the ratio of their weights.
 */
export function fair(m: NoQuantum): Decision {
  const q = Math.round((m.base_quantum_ms * niceWeight(m.nice)) / 1024);
  // A niced driver or server keeps the kernel's floor (which the kernel would refuse to cross).
  const min = m.class === "user" ? FAIR_MIN_MS : Math.min(SYSTEM_QUANTUM_MIN_MS, m.base_quantum_ms);
  return { priority: m.base_priority, quantum_ms: Math.max(min, Math.min(FAIR_MAX_MS, q)) };
}

export function decide(policy: PolicyName, m: NoQuantum): Decision {
  return policy === "fair" ? fair(m) : minix(m);
}
