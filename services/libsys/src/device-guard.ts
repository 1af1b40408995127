// What a driver lets each caller do with its device, checked in the driver framework
// against the caller's kernel-stamped label: the disk areas a label may read or write (the
// privilege table's `block`), and who may read a character device's input (`input`). ipc
// to a driver only lets a label send to it; a label with no grant for what it asks is
// refused with EPERM naming what it asked and what it holds. The grants are asked of the
// kernel (SYS_DEVACCESS) at the first request and again after a kernel-core restart (its
// table may have changed); until they are known, nothing is allowed.
import { labelOfSource as labelOf, MkError, type DeviceAccess } from "#abi";
import { LogLimiter } from "#base/log.ts";
import { sysDevaccess } from "./calls/sys-devaccess.ts";
import type { Sys } from "./sys.ts";

export type Need = "r" | "w";

export class DeviceGuard {
  private readonly sys: Sys;
  private access?: DeviceAccess;
  private loading?: Promise<DeviceAccess>;
  private readonly limiter: LogLimiter;

  constructor(sys: Sys) {
    this.sys = sys;
    this.limiter = new LogLimiter(sys.clock);
  }

  /** The grants may have changed (a new kernel-core, a new table): asked again at the next request. */
  forget(): void {
    this.access = undefined;
  }

  private async grants(): Promise<DeviceAccess> {
    if (this.access) return this.access;
    this.loading ??= sysDevaccess(this.sys).finally(() => (this.loading = undefined));
    this.access = await this.loading;
    return this.access;
  }

  private refuse(label: string, what: string, held: string): never {
    const e = new MkError("EPERM", `${this.sys.label}: ${label} may not ${what} (${held})`);
    this.limiter.allow(this.sys.log, `refused:${label}`, () =>
      this.sys.log.warn({ caller: label, refused: what }, "refused: %s", e.message),
    );
    throw e;
  }

  /** The caller may use the disk at all (open, geometry: some grant; flush: some write grant). */
  async anyBlock(source: string, need?: Need): Promise<void> {
    const label = labelOf(source);
    if ((await this.grants()).block.some((g) => g.label === label && (!need || g.access.includes(need)))) return;
    this.refuse(
      label,
      need === "w" ? "flush the disk" : "use the disk",
      need === "w" ? "no block privilege to write on it" : "no block privilege on it",
    );
  }

  /**
   * Every sector of lba..lba+count-1 lies in areas the caller may read (r) or write (w).
   * Areas lie on the disk, so a range that reaches past its end (as the table sizes it) is
   * no one's: refused whole, as a device address that wraps (LBA28's 2^28 + X is X) must be.
   */
  async sectors(source: string, need: Need, lba: number, count: number): Promise<void> {
    const label = labelOf(source);
    const access = await this.grants();
    const mine = access.block.filter((g) => g.label === label);
    const last = lba + Math.max(count, 1) - 1;
    if (last >= access.sectors)
      this.refuse(label, `${need === "r" ? "read" : "write"} sectors ${lba}-${last}`, `the disk ends at sector ${access.sectors - 1}`);
    // Areas never overlap: a range is covered when each of its sectors falls in a granted area.
    for (let at = lba; at <= last; ) {
      const g = mine.find((x) => x.access.includes(need) && x.first <= at && at <= x.last);
      if (!g) {
        const held = mine.length
          ? `its block privilege: ${mine.map((x) => `${x.area} ${x.first}-${x.last} ${x.access}`).join(", ")}`
          : "no block privilege on it";
        this.refuse(label, `${need === "r" ? "read" : "write"} sectors ${lba}-${last}`, held);
      }
      at = g.last + 1;
    }
  }

  /** The caller may read the device's input (a console's typed lines). */
  async input(source: string): Promise<void> {
    const label = labelOf(source);
    const readers = (await this.grants()).input;
    if (readers.includes(label)) return;
    this.refuse(label, "read its input", `only ${readers.join(", ") || "no one"} may: input in the privilege table`);
  }
}
