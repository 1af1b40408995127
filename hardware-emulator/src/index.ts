// What others may import from the hardware emulator (tests drive the machine directly).
export { Machine } from "./bus.ts";
export { HwServer } from "./server.ts";
export { ATA, ST, ER, CMD, DEVCTL_NIEN, readIdentifyString } from "./devices/ata.ts";
export { UART, LSR, IER } from "./devices/uart.ts";
export { PIT } from "./devices/pit.ts";
export { RTC } from "./devices/rtc.ts";
