// mkctl logs [PART...] [-f] [--tail N]: a process-mode system's logs, as `docker compose
// logs` shows a stack's. Each part writes pino JSON lines to <run dir>/logs/<part>.log;
// with more than one part each line is prefixed with its part, and -f follows the files
// (polled; a file that shrinks, because its part started again, is read from its start).
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
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

export function logParts(logDir: string): string[] {
  if (!existsSync(logDir)) return [];
  return readdirSync(logDir)
    .filter((f) => f.endsWith(".log"))
    .map((f) => f.slice(0, -4))
    .sort();
}

function parseTail(tail: string | undefined): number | undefined {
  if (tail === undefined || tail === "all") return undefined;
  const n = Number(tail);
  if (!Number.isInteger(n) || n < 0 || n > MAX_TAIL)
    throw new LocalError(
      "MK_ERR_USAGE",
      `mkctl logs --tail needs a count of lines from 0 to ${MAX_TAIL} (or all), got ${JSON.stringify(tail)}`,
    );
  return n;
}

/** The last n lines of a file, reading it backwards in chunks. */
function lastLines(file: string, n: number): { lines: string[]; end: number } {
  const size = statSync(file).size;
  if (n === 0) return { lines: [], end: size };
  const fd = openSync(file, "r");
  try {
    let pos = size;
    let text = "";
    while (pos > 0 && text.split("\n").length <= n + 1) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, pos);
      text = buf.toString("utf8") + text;
    }
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return { lines: lines.slice(-n), end: size };
  } finally {
    closeSync(fd);
  }
}

class Reader {
  private partial = "";
  private readonly file: string;
  private offset: number;
  constructor(file: string, offset: number) {
    this.file = file;
    this.offset = offset;
  }

  /** Whole lines added since the last read. */
  read(): string[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size < this.offset) {
      this.offset = 0; // the file was truncated or replaced
      this.partial = "";
    }
    const out: string[] = [];
    const fd = openSync(this.file, "r");
    try {
      while (this.offset < size) {
        const len = Math.min(CHUNK, size - this.offset);
        const buf = Buffer.alloc(len);
        const got = readSync(fd, buf, 0, len, this.offset);
        if (got === 0) break;
        this.offset += got;
        const lines = (this.partial + buf.toString("utf8", 0, got)).split("\n");
        this.partial = lines.pop() ?? "";
        out.push(...lines);
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }
}

export async function logsCommand(logDir: string, o: LogsOptions): Promise<void> {
  const known = logParts(logDir);
  if (known.length === 0)
    throw new LocalError("MK_ERR_NO_SYSTEM", `no logs in ${logDir} (mkctl up first, or name the run directory with --run-dir)`);
  const unknown = o.parts.filter((p) => !known.includes(p));
  if (unknown.length > 0)
    throw new LocalError("MK_ERR_UNKNOWN_PART", `no log for ${unknown.join(", ")} in ${logDir} (parts: ${known.join(", ")})`);
  const parts = o.parts.length > 0 ? o.parts : known;
  const tail = parseTail(o.tail);
  const width = Math.max(...parts.map((p) => p.length));
  const prefix = (p: string) => (parts.length > 1 ? `${p.padEnd(width)} | ` : "");

  const readers: [string, Reader][] = [];
  for (const p of parts) {
    const file = join(logDir, `${p}.log`);
    if (tail !== undefined) {
      const { lines, end } = lastLines(file, tail);
      for (const l of lines) o.write(`${prefix(p)}${l}\n`);
      readers.push([p, new Reader(file, end)]);
    } else {
      readers.push([p, new Reader(file, 0)]);
    }
  }
  const drain = () => {
    for (const [p, r] of readers) for (const l of r.read()) o.write(`${prefix(p)}${l}\n`);
  };
  drain();
  if (!o.follow) return;
  let stopped = false;
  void o.stopped.then(() => {
    stopped = true;
  });
  while (!stopped) {
    await Promise.race([o.clock.sleep(o.pollMs ?? 200), o.stopped]);
    drain();
  }
}
