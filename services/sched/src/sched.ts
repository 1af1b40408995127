// The sched server: policy in user space (MINIX's servers/sched). The kernel tells it
// that a quantum ran out; it answers with SYS_SCHEDULE. It keeps no state a restart
// would lose: everything it decides on arrives in the message.
import { KERNEL, MkError, Sched } from "#abi";
import { sysSchedule, type Server, type Sys } from "#libsys";
import { decide, type PolicyName } from "./policy.ts";

export class SchedServer {
  private readonly sys: Sys;
  readonly policy: PolicyName;
  decided = 0;
  refused = 0;

  constructor(sys: Sys, policy: PolicyName) {
    this.sys = sys;
    this.policy = policy;
  }

  server(): Server {
    return {
      concurrency: 16,
      initFresh: async () => this.sys.log.info({ policy: this.policy }, "sched serving with the %s policy", this.policy),
      handlers: {
        [Sched.SCHED_NO_QUANTUM]: async (req) => {
          if (req.source !== KERNEL) throw new MkError("EPERM", `SCHED_NO_QUANTUM comes from the kernel only, not ${req.source}`);
          const d = decide(this.policy, req.args);
          // Answered before the kernel call: the kernel does not wait on sched.
          void this.apply(req.args.endpoint, d.priority, d.quantum_ms);
          return { args: {} };
        },
      },
    };
  }

  private async apply(endpoint: string, priority: number, quantumMs: number): Promise<void> {
    try {
      await sysSchedule(this.sys, endpoint, priority, quantumMs);
      this.decided++;
    } catch (e) {
      // EDEADSRCDST: the process died meanwhile; EINVAL: the kernel held the policy to its bounds.
      this.refused++;
      if (!(e instanceof MkError) || e.errno !== "EDEADSRCDST")
        this.sys.log.warn({ endpoint, priority, quantumMs, err: (e as Error).message }, "SYS_SCHEDULE refused");
    }
  }
}
