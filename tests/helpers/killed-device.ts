// A disk in memory whose writer dies at its `budget`-th write: of that write only the first
// `torn` sectors land (a request of many blocks cut part way), and no later write happens.
// A vectored write counts each extent, in order, as the driver writes them. The kill-at-any-
// write tests of mfs run over it (tests/unit/minix-fs.test.ts, minix-interop.test.ts).
import { MkError } from "#abi";
import { MemoryBlockDevice } from "../../services/fs/mfs/src/block-device.ts";

export class KilledDevice extends MemoryBlockDevice {
  writes = 0;
  budget = Number.POSITIVE_INFINITY;
  torn = 0;
  override async write(lba: number, data: Uint8Array): Promise<void> {
    if (this.writes >= this.budget) {
      const sectors = Math.min(this.torn, data.length / 512);
      if (this.writes === this.budget && sectors > 0) await super.write(lba, data.subarray(0, sectors * 512));
      this.writes = this.budget + 1;
      throw new MkError("EIO", "killed");
    }
    this.writes++;
    await super.write(lba, data);
  }
}
