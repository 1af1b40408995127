// What one command prints, bounded: a command that would print more (cat of a large file,
// ls of a huge directory) stops growing the buffer at the limit and its output ends with a
// note saying so. The console gets at most this much per command, whatever the command.

/** Output of one command, in bytes (UTF-8). */
const MAX_OUTPUT = 64 * 1024;
const TRUNCATED = "… (truncated)\n";

export class Output {
  private readonly parts: string[] = [];
  private bytes = 0;
  private readonly limit: number;
  truncated = false;

  constructor(limit = MAX_OUTPUT) {
    this.limit = limit;
  }

  /** No more fits: a command that produces output in a loop stops asking for more. */
  get full(): boolean {
    return this.truncated || this.bytes >= this.limit;
  }

  write(s: string): void {
    if (this.truncated || s === "") return;
    const b = Buffer.from(s, "utf8");
    const room = this.limit - this.bytes;
    if (b.length <= room) {
      this.parts.push(s);
      this.bytes += b.length;
      return;
    }
    // Cut on a character boundary: a partial UTF-8 sequence at the end is dropped.
    let cut = room;
    while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
    this.parts.push(b.subarray(0, cut).toString("utf8"));
    this.bytes += cut;
    this.truncated = true;
  }

  line(s = ""): void {
    this.write(`${s}\n`);
  }

  /** Everything written, ending in a newline when there is anything, and the truncation note. */
  text(): string {
    let t = this.parts.join("");
    if (t !== "" && !t.endsWith("\n")) t += "\n";
    return this.truncated ? t + TRUNCATED : t;
  }
}

/** Columns padded to their widest cell, two blanks apart (ps, services). */
export function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
