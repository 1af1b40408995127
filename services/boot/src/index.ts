// Process-mode boot as a library (#boot): mkctl up, the chaos runner, the tests and the
// benchmarks boot and stop a system through it; the compose tooling finds Compose and
// the base images.
export { pidAlive, ProcessSystem, PROJECT_ROOT, type SystemState, type UpOptions } from "./boot.ts";
export { baseImages, type ComposeCli, detectCompose } from "./compose.ts";
export { DEMO_SERVICES, type DeriveOptions, deriveSystemYaml, type RestartYaml } from "./derive-table.ts";
export { generateNatsAuth, natsUsers, permissionsFor } from "./nats-config.ts";
export { findNatsServer } from "./nats-server.ts";
export { freePort, portFree, portFromEnv, takePort } from "./ports.ts";
