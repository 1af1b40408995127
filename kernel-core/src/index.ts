// What other parts of mkos may import from kernel-core (mkctl, tests, benchmarks).
export { Kernel, PROJECT_ROOT } from "./kernel.ts";
export { NatsLink, DISCONNECT_SUBJECT } from "./ipc/nats-link.ts";
export { KernelTransport } from "./ipc/kernel-transport.ts";
export { NatsHwBus, type HwBus } from "./hw/hw-bus.ts";
export { loadSystemTable, parseSystemTable, SystemTableError, type SystemTable, type ServicePrivileges } from "./priv/system-table.ts";
export { generateNatsAuth, writeCredentials, natsUsers, HARDWARE_USER, SYS_USER, MK_ACCOUNT, type Credential } from "./priv/nats-config.ts";
