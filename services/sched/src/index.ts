// sched as a placement-neutral module: kernel-core imports `service` for placement kernel;
// src/main.ts runs it as its own process. MK_SCHED_POLICY chooses the policy (minix, fair).
import { MkError } from "#abi";
import type { ServiceModule } from "#libsys";
import { POLICIES, type PolicyName } from "./policy.ts";
import { SchedServer } from "./sched.ts";

function policyFromEnv(v = process.env.MK_SCHED_POLICY ?? "fair"): PolicyName {
  const policy = POLICIES.find((p) => p === v);
  if (!policy) throw new MkError("EINVAL", `MK_SCHED_POLICY=${JSON.stringify(v)} is not a policy (${POLICIES.join(", ")})`);
  return policy;
}

export const service: ServiceModule = { label: "sched", create: (sys) => new SchedServer(sys, policyFromEnv()).server() };
