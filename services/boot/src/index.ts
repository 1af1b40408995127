// Process-mode boot as a library (#boot): mkctl up, the chaos runner, the tests and the
// benchmarks boot and stop a system through it; the compose tooling finds Compose and
// the base images.
export { pidAlive, ProcessSystem, PROJECT_ROOT } from "./boot.ts";
export { detectCompose } from "./compose.ts";
export { DEMO_SERVICES, type DeriveOptions, deriveSystemYaml } from "./derive-table.ts";
export { generateNatsAuth, natsUsers } from "./nats-config.ts";
export { freePort, portFromEnv } from "./ports.ts";
export { archOf, archPlacement, loadArch, writeArchTable } from "./arch.ts";
