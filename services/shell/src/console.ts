// The serial console as the shell uses it: lines read from tty minor 0 (CDEV_READ,
// canonical mode: tty answers one line, or `count` bytes of a longer one) and text written
// to it (CDEV_WRITE). Both follow tty across its restarts (libsys's Recovering): a read
// lost with a dead tty is sent again to the next generation, which drains what the UART
// still holds, so nothing typed meanwhile is lost.
import { Cdev, EMPTY, isMkError } from "#abi";
import { Recovering, type Sys } from "#libsys";
import { MAX_LINE } from "./parse.ts";

/** How long one read waits in tty for a line before it is asked again (an idle console). */
const READ_WAIT_MS = 300_000;
const WRITE_TIMEOUT_MS = 30_000;
/** How long a read or write waits for a restarted tty before the shell tries again itself. */
const TTY_WAIT_MS = 60_000;
const utf8 = new TextEncoder();

/** One read: a line (newline stripped), or the news that the line was longer than MAX_LINE. */
export type ConsoleLine = { line: string } | { overlong: number };

export interface LineConsole {
  /** The next typed line. ETIMEDOUT when none came for a long while. */
  readLine(): Promise<ConsoleLine>;
  write(text: string): Promise<void>;
}

export class TtyConsole implements LineConsole {
  private readonly sys: Sys;
  private readonly minor: number;
  private readonly tty: Recovering;
  /** Bytes of an overlong line read so far (0: none in progress). */
  private discarding = 0;

  constructor(sys: Sys, o: { label?: string; minor?: number; onNewTty?: (generation: number) => void } = {}) {
    this.sys = sys;
    this.minor = o.minor ?? 0;
    let announced = 0;
    this.tty = new Recovering(
      sys,
      o.label ?? "tty",
      {
        waitMs: TTY_WAIT_MS,
        maxRetries: 1000,
        onRetry: ({ deadGeneration, newGeneration }) => {
          // Once per new incarnation, however many requests found it.
          if (newGeneration > deadGeneration && newGeneration > announced) {
            announced = newGeneration;
            o.onNewTty?.(newGeneration);
          }
        },
      },
      async (gen) => {
        await this.sys
          .sendrec(`${o.label ?? "tty"}#${gen}`, Cdev.CDEV_OPEN, { minor: this.minor }, EMPTY, WRITE_TIMEOUT_MS)
          .catch(() => undefined);
      },
    );
  }

  /** The tty incarnation in use (0 before the first request). */
  get generation(): number {
    return this.tty.generation;
  }

  async open(): Promise<void> {
    await this.tty.call((dst) => this.sys.sendrec(dst, Cdev.CDEV_OPEN, { minor: this.minor }, EMPTY, WRITE_TIMEOUT_MS));
  }

  async readLine(): Promise<ConsoleLine> {
    for (;;) {
      // One byte more than the longest line and its CR LF: a read that fills it without a
      // newline is part of an overlong line, read on and dropped up to its newline.
      const count = MAX_LINE + 3;
      const r = await this.tty.call((dst) =>
        this.sys.sendrec(dst, Cdev.CDEV_READ, { minor: this.minor, count, timeoutMs: READ_WAIT_MS }, EMPTY, READ_WAIT_MS + 10_000),
      );
      const data = r.data;
      const ended = data.length > 0 && data[data.length - 1] === 0x0a;
      if (!ended && data.length >= count) {
        this.discarding += data.length;
        continue;
      }
      if (this.discarding > 0) {
        const total = this.discarding + data.length;
        this.discarding = 0;
        return { overlong: total };
      }
      return { line: new TextDecoder().decode(data).replace(/\r?\n$/, "") };
    }
  }

  async write(text: string): Promise<void> {
    const bytes = utf8.encode(text);
    await this.tty.call((dst) => this.sys.sendrec(dst, Cdev.CDEV_WRITE, { minor: this.minor }, bytes, WRITE_TIMEOUT_MS));
  }
}

/** An idle console: no line within a read's wait. Not a failure. */
export function isIdle(e: unknown): boolean {
  return isMkError(e, "ETIMEDOUT");
}
