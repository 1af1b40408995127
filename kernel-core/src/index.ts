// The kernel's face (#kernel): what its entry point (main.ts) assembles a running
// kernel-core from. Nothing else imports the kernel; the kernel imports no service.
export { announceBoot } from "./events/boot-announce.ts";
export { kernelStat } from "./events/kernel-stat.ts";
export { NatsHwBus } from "./hw/hw-bus.ts";
export { buildHttp } from "./http/server.ts";
export { generationFile } from "./table/generation-store.ts";
export { KernelTransport } from "./ipc/kernel-transport.ts";
export { NatsLink } from "./ipc/nats-link.ts";
export { Kernel, PROJECT_ROOT } from "./kernel.ts";
export { AgentControl, SignalControl } from "./sched/process-control.ts";
