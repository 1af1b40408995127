// The verifying workload chaos runs during the method: several workers on one block
// client, each owning a region of the disk, write a patterned chunk, read it back and
// compare, round after round. Every operation goes through libsys's block client (so
// through its recovery): an operation that fails, or data that reads back wrong, is a
// loss the report counts. At the end every chunk written is read once more.
import { BdevClient, type Sys } from "#libsys";

export interface WorkloadStats {
  ops_attempted: number;
  ops_failed: number;
  /** Operations still waiting when the run ended (a system that went down never answers them). */
  ops_unfinished: number;
  /** Requests the block client sent again (after a driver death, an absent kernel, a timeout). */
  ops_retried: number;
  /** Replies whose data failed the driver's checksum and were read again. */
  corrupt_replies: number;
  bytes_written: number;
  bytes_verified: number;
  bytes_wrong: number;
  errors: string[];
}

/** Sector contents that depend on the position, the round and the seed. */
function chunkPattern(lba: number, sectors: number, round: number, seed: number): Uint8Array {
  const out = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) {
    const base = ((lba + s) * 2654435761 + round * 40503 + seed) >>> 0;
    for (let i = 0; i < 512; i += 4) {
      const v = (base ^ (i * 2246822519)) >>> 0;
      out[s * 512 + i] = v & 0xff;
      out[s * 512 + i + 1] = (v >>> 8) & 0xff;
      out[s * 512 + i + 2] = (v >>> 16) & 0xff;
      out[s * 512 + i + 3] = v >>> 24;
    }
  }
  return out;
}

export class Workload {
  readonly stats: WorkloadStats = {
    ops_attempted: 0,
    ops_failed: 0,
    ops_unfinished: 0,
    ops_retried: 0,
    corrupt_replies: 0,
    bytes_written: 0,
    bytes_verified: 0,
    bytes_wrong: 0,
    errors: [],
  };
  private readonly disk: BdevClient;
  private readonly o: { workers: number; sectors: number; span: number; base: number; seed: number };
  private stopping = false;
  private inFlight = 0;
  private running: Promise<void>[] = [];
  /** The round each chunk was last written with (verified at the end). */
  private readonly written = new Map<number, number>();

  constructor(sys: Sys, o: { workers: number; sectors: number; span: number; base?: number; seed: number }) {
    this.o = { ...o, base: o.base ?? 8192 };
    this.disk = new BdevClient(sys, "ata", { waitMs: 60_000, onRetry: () => void this.stats.ops_retried++ });
  }

  async start(): Promise<void> {
    await this.disk.openMinor(0);
    this.running = Array.from({ length: this.o.workers }, (_, w) => this.worker(w));
  }

  private fail(what: string, e: unknown): void {
    this.stats.ops_failed++;
    const why = typeof e === "string" ? e : `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message ?? e}`.trim();
    if (this.stats.errors.length < 20) this.stats.errors.push(`${what}: ${why}`);
  }

  private async worker(w: number): Promise<void> {
    const { sectors, span, base, seed, workers } = this.o;
    const chunks = Math.max(1, Math.floor(span / sectors / workers));
    for (let round = 1; !this.stopping; round++) {
      const lba = base + (w * chunks + (round % chunks)) * sectors;
      const data = chunkPattern(lba, sectors, round, seed);
      this.stats.ops_attempted++;
      this.inFlight++;
      try {
        await this.disk.write(lba, data);
        this.written.set(lba, round);
        this.stats.bytes_written += data.length;
      } catch (e) {
        this.written.delete(lba); // what it holds now is not known
        this.fail(`write lba ${lba}`, e);
        continue;
      } finally {
        this.inFlight--;
      }
      this.stats.ops_attempted++;
      this.inFlight++;
      try {
        const got = await this.disk.read(lba, sectors);
        if (Buffer.compare(Buffer.from(got), Buffer.from(data)) === 0) this.stats.bytes_verified += got.length;
        else {
          this.stats.bytes_wrong += got.length;
          this.fail(`read lba ${lba}`, "data read back differs from what was written");
        }
      } catch (e) {
        this.fail(`read lba ${lba}`, e);
      } finally {
        this.inFlight--;
      }
    }
  }

  /** The stats now, with operations still waiting counted as unfinished (the run is over). */
  snapshot(): WorkloadStats {
    this.stopping = true;
    return { ...this.stats, ops_unfinished: this.inFlight, corrupt_replies: this.disk.corruptReplies };
  }

  /** Stops the workers, then reads every chunk back once more. */
  async stop(): Promise<WorkloadStats> {
    this.stopping = true;
    await Promise.all(this.running);
    for (const [lba, round] of this.written) {
      this.stats.ops_attempted++;
      try {
        const got = await this.disk.read(lba, this.o.sectors);
        if (Buffer.compare(Buffer.from(got), Buffer.from(chunkPattern(lba, this.o.sectors, round, this.o.seed))) === 0)
          this.stats.bytes_verified += got.length;
        else {
          this.stats.bytes_wrong += got.length;
          this.fail(`final read lba ${lba}`, "data differs from the last acknowledged write");
        }
      } catch (e) {
        this.fail(`final read lba ${lba}`, e);
      }
    }
    this.stats.corrupt_replies = this.disk.corruptReplies;
    return this.stats;
  }
}
