// What tests and benchmarks may import from mkctl: process-mode boot.
export { ProcessSystem, PROJECT_ROOT, type SystemState, type UpOptions } from "./boot.ts";
export { findNatsServer } from "./nats-server.ts";
export { freePort } from "./ports.ts";
export { DEMO_SERVICES, deriveSystemYaml, type DeriveOptions } from "./derive-table.ts";
