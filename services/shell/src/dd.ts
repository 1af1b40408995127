// dd: raw sectors of the ATA disk (if=/dev/ata) through the block protocol, or a file
// through vfs, copied to a file (of=FILE) or summed: records in and out, bytes, a CRC-32
// and a hexdump of the first 64 bytes, so two reads can be compared by eye. Writing the raw
// disk is refused: mfs has its file system mounted there, and a write under it would
// corrupt what it caches.
import { crc32 } from "node:zlib";
import { MAX_FS_IO, MkError, SECTOR_SIZE } from "#abi";
import type { FileHandle } from "#libsys";
import { usage, type Command } from "./command.ts";
import type { ShellDeps } from "./deps.ts";
import type { Output } from "./output.ts";
import { operands, wholeNumber } from "./parse.ts";

const ATA_DEVICE = "/dev/ata";
/** Most bytes one dd moves: a person at a console waits for it. */
const MAX_DD_BYTES = 32 * 1024 * 1024;
/** Sectors per block read (the driver takes up to 256 per ATA command). */
const SECTORS_PER_READ = 256;

/** hexdump -C of the first bytes. */
function hexdump(data: Uint8Array, max = 64): string[] {
  const lines: string[] = [];
  for (let off = 0; off < Math.min(data.length, max); off += 16) {
    const row = data.subarray(off, Math.min(off + 16, data.length, max));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0"));
    const left = hex.slice(0, 8).join(" ");
    const right = hex.slice(8).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(8, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines;
}

/** Where the bytes come from: the next block of at most `bs` bytes, empty at the end. */
type Source = { next(): Promise<Uint8Array>; close(): Promise<void> };

function ataSource(deps: ShellDeps, skip: number, count: number, bs: number): Source {
  const sectorsPerBlock = bs / SECTOR_SIZE;
  let lba = skip * sectorsPerBlock;
  let left = count * sectorsPerBlock;
  return {
    async next() {
      if (left === 0) return new Uint8Array(0);
      const n = Math.min(left, sectorsPerBlock, SECTORS_PER_READ);
      const data = await deps.disk.read(lba, n);
      lba += n;
      left -= n;
      return data;
    },
    close: async () => undefined,
  };
}

async function fileSource(deps: ShellDeps, path: string, skip: number, bs: number): Promise<Source> {
  if ((await deps.fs.stat(path)).isDirectory()) throw new MkError("EISDIR", `${path} is a directory`);
  const h = await deps.fs.open(path, "r");
  let at = skip * bs;
  return {
    async next() {
      const data = await h.read(bs, at);
      at += data.length;
      return data;
    },
    close: () => h.close(),
  };
}

export const dd: Command = {
  name: "dd",
  usage: `dd if=${ATA_DEVICE}|FILE [of=FILE] [bs=N] [skip=N] [count=N]`,
  summary: `copy or sum raw data: sectors of the disk (${ATA_DEVICE}, bs a multiple of 512) or a file; prints a CRC-32 and a hexdump`,
  async run(args, out, deps) {
    const o = operands(args, ["if", "of", "bs", "skip", "count"]);
    const input = o.get("if");
    const output = o.get("of");
    if (!input) throw usage(this, "if= is needed");
    if (output === ATA_DEVICE) throw new MkError("EBUSY", `${ATA_DEVICE} holds the mounted mfs file system: raw writes are refused`);
    if (output === "") throw usage(this, "of= names no file");
    const disk = input === ATA_DEVICE;
    const bs = wholeNumber(o.get("bs") ?? String(SECTOR_SIZE), "bs", 1, disk ? SECTOR_SIZE * SECTORS_PER_READ : MAX_FS_IO);
    if (disk && bs % SECTOR_SIZE !== 0)
      throw new MkError("EINVAL", `bs=${bs}: ${ATA_DEVICE} is read in whole sectors (a multiple of ${SECTOR_SIZE})`);
    const skip = wholeNumber(o.get("skip") ?? "0", "skip", 0, 2 ** 32);
    const count = o.has("count") ? wholeNumber(o.get("count"), "count", 0, MAX_DD_BYTES) : disk ? 1 : undefined;
    if (count !== undefined && count * bs > MAX_DD_BYTES)
      throw new MkError("EFBIG", `count=${count} bs=${bs} is over ${MAX_DD_BYTES} bytes, the most one dd moves`);
    await copy(deps, out, disk ? ataSource(deps, skip, count ?? 1, bs) : await fileSource(deps, input, skip, bs), output, bs, count);
  },
};

async function copy(
  deps: ShellDeps,
  out: Output,
  src: Source,
  of: string | undefined,
  bs: number,
  count: number | undefined,
): Promise<void> {
  const started = deps.clock.now();
  let sink: FileHandle | undefined;
  const stats = { full: 0, partial: 0, bytes: 0, crc: 0 };
  let head = new Uint8Array(0);
  let overLimit = false;
  try {
    sink = of === undefined ? undefined : await deps.fs.open(of, "w");
    for (let records = 0; count === undefined || records < count; records++) {
      // One read per block: bs is bounded to what the driver (256 sectors) and vfs (MAX_FS_IO) answer at once.
      const block = await src.next();
      if (block.length === 0) break;
      if (stats.bytes + block.length > MAX_DD_BYTES) {
        overLimit = true;
        break;
      }
      if (block.length === bs) stats.full++;
      else stats.partial++;
      stats.bytes += block.length;
      stats.crc = crc32(block, stats.crc);
      if (head.length < 64) head = Buffer.concat([head, block.subarray(0, 64 - head.length)]);
      if (sink) await sink.write(block);
    }
  } finally {
    await src.close().catch(() => undefined);
    await sink?.close();
  }
  out.line(`${stats.full}+${stats.partial} records in`);
  if (of !== undefined) out.line(`${stats.full}+${stats.partial} records out`);
  out.line(
    `${stats.bytes} bytes${stats.bytes % SECTOR_SIZE === 0 ? ` (${stats.bytes / SECTOR_SIZE} sectors)` : ""} copied in ${deps.clock.now() - started} ms, crc32 ${stats.crc.toString(16).padStart(8, "0")}`,
  );
  for (const l of hexdump(head)) out.line(l);
  if (overLimit) throw new MkError("EFBIG", `stopped after ${stats.bytes} bytes: the most one dd moves is ${MAX_DD_BYTES}`);
}
