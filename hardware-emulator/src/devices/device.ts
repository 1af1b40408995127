// A port-mapped device on the emulated ISA bus.

export type Width = 1 | 2 | 4;

export interface PortDevice {
  readonly name: string;
  /** Inclusive port ranges this device decodes. */
  readonly ports: readonly (readonly [number, number])[];
  in(port: number, width: Width): number;
  out(port: number, width: Width, value: number): void;
  /** Optional fast path for rep ins (a whole sector at once). */
  inString?(port: number, width: Width, count: number): Uint8Array | undefined;
  /** Optional fast path for rep outs. */
  outString?(port: number, width: Width, data: Uint8Array): boolean;
}

/** How a device raises its interrupt line. */
export type RaiseIrq = (line: number) => void;
