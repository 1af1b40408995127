// The verifying file workload: workers, each in its own directory under its root, create,
// write, append, overwrite, rename, truncate, fsync, read back and unlink files through vfs
// (libsys's FsClient, so through every recovery mechanism below it), against a model of
// what each file must hold. An operation that fails, or a read that differs from the
// model, is a loss the report counts. At the end every directory is listed and every file
// read once more. Its stats have the block workload's shape, and are added to them.
import { createHash } from "node:crypto";
import { FsClient, type Sys } from "#libsys";
import type { WorkloadStats } from "./block-workload.ts";

export interface FileWorkloadOptions {
  workers: number;
  /** Largest file a worker makes. */
  maxBytes: number;
  seed: number;
  /** The directory it owns (emptied at start): /chaos unless told. */
  root?: string;
  /** Awaited before each operation: the demo's rate limit (none: as fast as the system answers). */
  pace?: () => Promise<void>;
}

/** xorshift32: the same bytes for the same seed, cheaply. */
function fill(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed | 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 16);

export class FileWorkload {
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
  private readonly fs: FsClient;
  private readonly o: FileWorkloadOptions;
  private stopping = false;
  private inFlight = 0;
  private running: Promise<void>[] = [];
  /** Per worker: file name -> what it must hold. */
  private readonly models: Map<string, Uint8Array>[] = [];

  private readonly root: string;

  constructor(sys: Sys, o: FileWorkloadOptions) {
    this.o = o;
    this.root = o.root ?? "/chaos";
    this.fs = new FsClient(sys, { waitMs: 60_000, onRetry: () => void this.stats.ops_retried++ });
  }

  private dir(w: number): string {
    return `${this.root}/w${w}`;
  }

  async start(): Promise<void> {
    await this.fs.rm(this.root, { recursive: true, force: true });
    for (let w = 0; w < this.o.workers; w++) {
      await this.fs.mkdir(this.dir(w), { recursive: true });
      this.models.push(new Map());
    }
    this.running = Array.from({ length: this.o.workers }, (_, w) => this.worker(w));
  }

  /** A failed operation: what, why, and when (how long it ran, when it ended: to find it in the services' logs). */
  private fail(what: string, e: unknown, startedAt?: number): void {
    this.stats.ops_failed++;
    const why = typeof e === "string" ? e : `${(e as { errno?: string }).errno ?? ""} ${(e as Error).message ?? e}`.trim();
    const when = startedAt === undefined ? "" : ` (after ${Date.now() - startedAt} ms, at ${new Date().toISOString()})`;
    if (this.stats.errors.length < 20) this.stats.errors.push(`${what}: ${why}${when}`);
  }

  private verify(what: string, got: Uint8Array, want: Uint8Array): void {
    if (got.length === want.length && Buffer.compare(Buffer.from(got), Buffer.from(want)) === 0) {
      this.stats.bytes_verified += got.length;
      return;
    }
    this.stats.bytes_wrong += Math.max(got.length, want.length);
    this.fail(
      what,
      `read ${got.length} bytes (sha256 ${digest(got)}), the model holds ${want.length} (sha256 ${digest(want)}) (at ${new Date().toISOString()})`,
    );
  }

  /** One operation, counted; a failure is recorded and the model left as the operation found it. */
  private async op(what: string, fn: () => Promise<void>): Promise<void> {
    if (this.o.pace) await this.o.pace();
    this.stats.ops_attempted++;
    this.inFlight++;
    const startedAt = Date.now();
    try {
      await fn();
    } catch (e) {
      this.fail(what, e, startedAt);
    } finally {
      this.inFlight--;
    }
  }

  private async worker(w: number): Promise<void> {
    const model = this.models[w];
    const dir = this.dir(w);
    let next = 0;
    for (let round = 1; !this.stopping; round++) {
      const seed = (this.o.seed * 7919 + w * 104729 + round * 31) >>> 0;
      const names = [...model.keys()];
      const pick = names[seed % Math.max(1, names.length)];
      const size = 1 + (seed % this.o.maxBytes);
      const kind = names.length < 4 ? 0 : seed % 9;
      switch (kind) {
        case 0: {
          // create a new file with content
          const name = `f${next++}`;
          const data = fill(size, seed);
          await this.op(`create ${dir}/${name}`, async () => {
            await this.fs.writeFile(`${dir}/${name}`, data, { flag: "wx" });
            model.set(name, data);
            this.stats.bytes_written += data.length;
          });
          break;
        }
        case 1: {
          // append
          const extra = fill(1 + (seed % 4096), seed ^ 0x5a5a);
          await this.op(`append ${dir}/${pick}`, async () => {
            await this.fs.appendFile(`${dir}/${pick}`, extra);
            model.set(pick, Buffer.concat([model.get(pick)!, extra]));
            this.stats.bytes_written += extra.length;
          });
          break;
        }
        case 2: {
          // overwrite in place, maybe past the end (a hole)
          const old = model.get(pick)!;
          const at = seed % (old.length + 2048);
          const patch = fill(1 + (seed % 2048), seed ^ 0xa5a5);
          await this.op(`pwrite ${dir}/${pick}@${at}`, async () => {
            const h = await this.fs.open(`${dir}/${pick}`, "r+");
            try {
              await h.write(patch, at);
            } finally {
              await h.close();
            }
            const now = new Uint8Array(Math.max(old.length, at + patch.length));
            now.set(old);
            now.set(patch, at);
            model.set(pick, now);
            this.stats.bytes_written += patch.length;
          });
          break;
        }
        case 3: {
          // rename
          const name = `g${next++}`;
          await this.op(`rename ${dir}/${pick} -> ${name}`, async () => {
            await this.fs.rename(`${dir}/${pick}`, `${dir}/${name}`);
            model.set(name, model.get(pick)!);
            model.delete(pick);
          });
          break;
        }
        case 4: {
          // truncate shorter
          const old = model.get(pick)!;
          const len = Math.floor(old.length / 2);
          await this.op(`truncate ${dir}/${pick}`, async () => {
            await this.fs.truncate(`${dir}/${pick}`, len);
            model.set(pick, old.subarray(0, len));
          });
          break;
        }
        case 5: {
          // fsync: a commit point
          await this.op(`fsync ${dir}/${pick}`, async () => {
            const h = await this.fs.open(`${dir}/${pick}`, "r+");
            try {
              await h.sync();
            } finally {
              await h.close();
            }
          });
          break;
        }
        case 6: {
          // unlink, keeping a few files
          if (names.length < 8) break;
          await this.op(`unlink ${dir}/${pick}`, async () => {
            await this.fs.unlink(`${dir}/${pick}`);
            model.delete(pick);
          });
          break;
        }
        default: // read back and verify
          await this.op(`read ${dir}/${pick}`, async () =>
            this.verify(`read ${dir}/${pick}`, await this.fs.readFile(`${dir}/${pick}`), model.get(pick)!),
          );
      }
    }
  }

  /** Operations under way now (the workers go on). */
  get unfinished(): number {
    return this.inFlight;
  }

  /** The stats now, with operations still waiting counted as unfinished (the run is over: the workers stop). */
  snapshot(): WorkloadStats {
    this.stopping = true;
    return { ...this.stats, ops_unfinished: this.inFlight };
  }

  /** Stops the workers, then lists every directory and reads every file once more. */
  async stop(): Promise<WorkloadStats> {
    this.stopping = true;
    await Promise.all(this.running);
    for (const [w, model] of this.models.entries()) {
      const dir = this.dir(w);
      await this.op(`list ${dir}`, async () => {
        const names = (await this.fs.readdir(dir)).sort();
        const want = [...model.keys()].sort();
        if (names.join("/") !== want.join("/"))
          this.fail(
            `list ${dir}`,
            `holds ${names.length} names, the model ${want.length}: ${names
              .filter((n) => !model.has(n))
              .concat(want.filter((n) => !names.includes(n)))
              .slice(0, 5)
              .join(", ")} differ`,
          );
      });
      for (const [name, want] of model) {
        await this.op(`final read ${dir}/${name}`, async () =>
          this.verify(`final read ${dir}/${name}`, await this.fs.readFile(`${dir}/${name}`), want),
        );
      }
    }
    return this.stats;
  }
}
