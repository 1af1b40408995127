// What other parts of mkos may import from kernel-core (tests, benchmarks).
export { Kernel, PROJECT_ROOT } from "./kernel.ts";
export { NatsLink, DISCONNECT_SUBJECT } from "./ipc/nats-link.ts";
export { KernelTransport } from "./ipc/kernel-transport.ts";
export { NatsHwBus, type HwBus } from "./hw/hw-bus.ts";
export { loadSystemTable, parseSystemTable, SystemTableError, type SystemTable, type ServicePrivileges } from "#base/system-table.ts";
