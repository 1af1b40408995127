// mkctl logs [PART...] [-f] [--tail N]: a process-mode system's logs, as `docker compose
// logs` shows a stack's. Each part appends pino JSON lines to <run dir>/logs/<part>.log;
// with more than one part each line is prefixed with its part, and -f follows the files
// (polled; a file that shrinks, because someone truncated it, is read from its start).
// Lines are written as each chunk is read: a large log never sits in memory whole.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { join } from "node:path";
import type { Clock } from "#base/clock.ts";
import { LocalError } from "#base/errors.ts";

/** At most this much of a file is read at once, so a huge log never sits in memory whole. */
const CHUNK = 1 << 20;
const MAX_TAIL = 100_000;

export interface LogsOptions {
  parts: string[];
  follow: boolean;
  tail?: string;
  /** Where lines go (stdout). */
  write: (s: string) => void;
  clock: Clock;
  /** Resolves when following should stop (Ctrl-C). */
  stopped: Promise<void>;
  pollMs?: number;
}

function logParts(logDir: string): string[] {
  if (!existsSync(logDir)) return [];
  return readdirSync(logDir)
    .filter((f) => f.endsWith(".log"))
    .map((f) => f.slice(0, -4))
    .sort();
}

function parseTail(tail: string | undefined): number | undefined {
  if (tail === undefined || tail === "all") return undefined;
  const n = /^[0-9]{1,6}$/.test(tail) ? Number(tail) : Number.NaN;
  if (!Number.isInteger(n) || n > MAX_TAIL)
    throw new LocalError(
      "MK_ERR_USAGE",
      `mkctl logs --tail needs a count of lines from 0 to ${MAX_TAIL} (or all), got ${JSON.stringify(tail)}`,
    );
  return n;
}

/**
 * Where the last n whole lines of a file start, found by counting newlines backwards in
 * chunks (nothing but the count is kept). A last line still being written (no newline
 * yet) is left to the reader, which prints it once it is whole.
 */
function tailStart(file: string, n: number): { start: number; end: number } {
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.min(CHUNK, Math.max(1, size)));
    // The end of the last whole line: the byte after the last newline.
    let end = size;
    let pos = size;
    let found = -1; // newlines seen, the last whole line's own counted first
    while (pos > 0) {
      const len = Math.min(buf.length, pos);
      pos -= len;
      readSync(fd, buf, 0, len, pos);
      for (let i = len - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) continue;
        if (found < 0) end = pos + i + 1;
        found++;
        if (found === n) return { start: pos + i + 1, end };
      }
    }
    return { start: 0, end: found < 0 ? 0 : end };
  } finally {
    closeSync(fd);
  }
}

class Reader {
  private partial = "";
  private readonly decoder = new StringDecoder("utf8");
  private readonly file: string;
  private offset: number;
  constructor(file: string, offset: number) {
    this.file = file;
    this.offset = offset;
  }

  /** Hands each whole line added since the last read to emit, a chunk at a time. */
  read(emit: (line: string) => void): void {
    if (!existsSync(this.file)) return;
    const size = statSync(this.file).size;
    if (size < this.offset) {
      this.offset = 0; // the file was truncated or replaced
      this.partial = "";
    }
    const fd = openSync(this.file, "r");
    try {
      const buf = Buffer.alloc(Math.min(CHUNK, Math.max(1, size - this.offset)));
      while (this.offset < size) {
        const got = readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (got === 0) break;
        this.offset += got;
        const lines = (this.partial + this.decoder.write(buf.subarray(0, got))).split("\n");
        this.partial = lines.pop() ?? "";
        for (const l of lines) emit(l);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** A last line without its newline, when nothing more is coming (not following). */
  rest(emit: (line: string) => void): void {
    const last = this.partial + this.decoder.end();
    this.partial = "";
    if (last !== "") emit(last);
  }
}

export async function logsCommand(logDir: string, o: LogsOptions): Promise<void> {
  const known = logParts(logDir);
  if (known.length === 0)
    throw new LocalError("MK_ERR_NO_SYSTEM", `no logs in ${logDir} (mkctl up first, or name the run directory with --run-dir)`);
  const unknown = o.parts.filter((p) => !known.includes(p));
  if (unknown.length > 0)
    throw new LocalError("MK_ERR_UNKNOWN_PART", `no log for ${unknown.join(", ")} in ${logDir} (parts: ${known.join(", ")})`);
  const parts = o.parts.length > 0 ? [...new Set(o.parts)] : known;
  const tail = parseTail(o.tail);
  const width = Math.max(...parts.map((p) => p.length));
  const prefix = (p: string) => (parts.length > 1 ? `${p.padEnd(width)} | ` : "");

  const readers: [string, Reader][] = parts.map((p) => {
    const file = join(logDir, `${p}.log`);
    return [p, new Reader(file, tail === undefined ? 0 : tailStart(file, tail).start)];
  });
  const drain = () => {
    for (const [p, r] of readers) r.read((l) => o.write(`${prefix(p)}${l}\n`));
  };
  drain();
  if (!o.follow) {
    for (const [p, r] of readers) r.rest((l) => o.write(`${prefix(p)}${l}\n`));
    return;
  }
  let stopped = false;
  void o.stopped.then(() => {
    stopped = true;
  });
  while (!stopped) {
    await Promise.race([o.clock.sleep(o.pollMs ?? 200), o.stopped]);
    drain();
  }
}
