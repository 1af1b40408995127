// The workloads: the verifying block and file workloads the chaos runner drives, and the
// demo workload, a user program the dashboard's pictures move with (placement-neutral
// module; src/main.ts runs it as its own process).
import type { ServiceModule } from "#libsys";
import { DemoWorkload, rateFromEnv } from "./demo.ts";

export { Workload, type WorkloadStats } from "./block-workload.ts";
export { FileWorkload } from "./file-workload.ts";

export const service: ServiceModule = { label: "workload", create: (sys) => new DemoWorkload(sys, rateFromEnv()).server() };
