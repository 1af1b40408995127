// Read-ahead (MINIX's rahead, Linux's readahead windows): a read that starts where the
// last read of the same file ended is sequential. A sequential read that reaches the second
// half of what was read ahead reads a whole window further, twice as large as the last (up
// to MAX_WINDOW blocks), as Linux starts its next window at the readahead marker: one large
// device read per window, not a few blocks per read. A read anywhere else is random: it
// reads nothing ahead, and the window starts over. A file's first read from its start is
// taken as the start of a sequential one. The state is per inode, for the STREAMS most
// recently read files.

/** Blocks read ahead by the first sequential read. */
const MIN_WINDOW = 4;
/** The window's bound, in blocks. */
const MAX_WINDOW = 256;
/** Files whose reading is followed. */
const STREAMS = 64;

interface Stream {
  /** The block a sequential read starts at. */
  next: number;
  window: number;
  /** The last block read ahead. */
  until: number;
}

export class ReadAhead {
  private readonly streams = new Map<number, Stream>();
  private readonly maxWindow: number;

  /** `maxWindow`: at most this many blocks ahead (a quarter of the buffer cache, so what is read ahead stays cached). */
  constructor(maxWindow: number) {
    this.maxWindow = Math.max(0, Math.min(MAX_WINDOW, Math.floor(maxWindow)));
  }

  /** The last block that should be cached after a read of blocks `first`..`last` of inode `ino` (`last` itself, or beyond). */
  plan(ino: number, first: number, last: number): number {
    const s = this.streams.get(ino);
    this.streams.delete(ino);
    let next: Stream = { next: last + 1, window: 0, until: last }; // random: nothing ahead
    if ((s !== undefined && first === s.next) || (s === undefined && first === 0)) {
      const window = s?.window ?? 0;
      const until = s?.until ?? last;
      if (last + window / 2 < until) next = { next: last + 1, window, until };
      else {
        const grown = Math.min(this.maxWindow, Math.max(MIN_WINDOW, window * 2));
        next = { next: last + 1, window: grown, until: last + grown };
      }
    }
    this.streams.set(ino, next);
    if (this.streams.size > STREAMS) this.streams.delete(this.streams.keys().next().value as number);
    return Math.max(last, next.until);
  }

  /** The file is gone or changed size: its stream starts over. */
  forget(ino: number): void {
    this.streams.delete(ino);
  }
}
