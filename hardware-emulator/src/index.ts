// What others may import from the hardware emulator (tests drive the machine directly).
export { Machine, type MachineOptions } from "./bus.ts";
export { HwServer } from "./server.ts";
export { AtaDevice, ATA, ST, ER, CMD, DEVCTL_NIEN, identifyBlock, readIdentifyString } from "./devices/ata.ts";
export { UartDevice, UART, LSR, IER } from "./devices/uart.ts";
export { PitDevice, PIT, PIT_HZ } from "./devices/pit.ts";
export { RtcDevice, RTC } from "./devices/rtc.ts";
