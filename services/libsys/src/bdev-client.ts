// The client side of the block protocol (MINIX libbdev). Talks to one incarnation at a
// time; when it answers EDEADSRCDST (the driver died), waits for the next generation to
// be ready, re-opens what was open, and resends the request. Reads, writes of whole
// sectors and flushes are idempotent, so resending is safe.
import { Bdev, isMkError, MkError, parseReplyArgs, SECTOR_SIZE, type GeometryReply } from "#abi";
import { sysWaitEndpoint } from "./calls/sys-getinfo.ts";
import type { Sys } from "./sys.ts";
import type { RawReply } from "#base/transport.ts";

export interface BdevClientOptions {
  /** How long to wait for a restarted driver before giving up. */
  waitMs?: number;
  /** Resends of one request before giving up. */
  maxRetries?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  onRetry?: (info: { label: string; deadGeneration: number; newGeneration: number; type: number }) => void;
}

export class BdevClient {
  private readonly sys: Sys;
  readonly label: string;
  private readonly o: Required<Omit<BdevClientOptions, "onRetry">> & Pick<BdevClientOptions, "onRetry">;
  generation = 0;
  private readonly open = new Set<number>();

  constructor(sys: Sys, label: string, o: BdevClientOptions = {}) {
    this.sys = sys;
    this.label = label;
    this.o = { waitMs: o.waitMs ?? 30_000, maxRetries: o.maxRetries ?? 10, timeoutMs: o.timeoutMs ?? 30_000, onRetry: o.onRetry };
  }

  private async call(type: number, args: Record<string, unknown>, data?: Uint8Array): Promise<RawReply> {
    for (let attempt = 0; ; attempt++) {
      if (this.generation === 0) this.generation = (await sysWaitEndpoint(this.sys, this.label, 0, this.o.waitMs)).generation;
      const gen = this.generation;
      try {
        return await this.sys.sendrec(`${this.label}#${gen}`, type, args, data, this.o.timeoutMs);
      } catch (e) {
        if (!isMkError(e, "EDEADSRCDST") || attempt >= this.o.maxRetries) throw e;
        const next = await sysWaitEndpoint(this.sys, this.label, gen, this.o.waitMs);
        this.generation = next.generation;
        this.o.onRetry?.({ label: this.label, deadGeneration: gen, newGeneration: next.generation, type });
        for (const minor of this.open) await this.reopen(minor);
      }
    }
  }

  private async reopen(minor: number): Promise<void> {
    await this.sys.sendrec(`${this.label}#${this.generation}`, Bdev.BDEV_OPEN, { minor }, undefined, this.o.timeoutMs).catch(() => undefined);
  }

  async openMinor(minor = 0): Promise<void> {
    await this.call(Bdev.BDEV_OPEN, { minor, access: "rw" });
    this.open.add(minor);
  }

  async read(lba: number, count: number, minor = 0): Promise<Uint8Array> {
    const r = await this.call(Bdev.BDEV_READ, { minor, lba, count });
    if (r.data.length !== count * SECTOR_SIZE) throw new MkError("EIO", `read of ${count} sectors returned ${r.data.length} bytes`);
    return r.data;
  }

  async write(lba: number, data: Uint8Array, minor = 0): Promise<void> {
    if (data.length % SECTOR_SIZE !== 0) throw new MkError("EINVAL", `write of ${data.length} bytes is not whole sectors`);
    await this.call(Bdev.BDEV_WRITE, { minor, lba, count: data.length / SECTOR_SIZE }, data);
  }

  async flush(minor = 0): Promise<void> {
    await this.call(Bdev.BDEV_FLUSH, { minor });
  }

  async geometry(minor = 0): Promise<GeometryReply> {
    const r = await this.call(Bdev.BDEV_GEOMETRY, { minor });
    return parseReplyArgs(Bdev.BDEV_GEOMETRY, r.args) as GeometryReply;
  }
}
