// Per-process descriptor tables (MINIX VFS's filp table). A process is the caller's
// endpoint, label#generation, as the kernel stamps it: unforgeable, and gone for good when
// the kernel says that incarnation is dead, when vfs drops its table and closes its files.
import { MkError, O } from "#abi";
import type { FsServer, Hold } from "./fs-server.ts";

/** Descriptors one process may hold (EMFILE past it), and all processes together (ENFILE). */
const MAX_FDS_PER_PROCESS = 256;
const MAX_OPEN_FILES = 4096;

export interface OpenFile {
  readonly server: FsServer;
  readonly ino: number;
  /** The server's hold on the inode, for as long as this descriptor is open. */
  readonly hold: Hold;
  readonly flags: number;
  readonly isDir: boolean;
  offset: number;
}

export function readable(f: OpenFile): boolean {
  return (f.flags & O.ACCMODE) !== O.WRONLY;
}
export function writable(f: OpenFile): boolean {
  return (f.flags & O.ACCMODE) !== O.RDONLY;
}

/** Opens remembered per process by request id, the newest: a resend is answered with the first's descriptor. */
const MAX_OPENS_REMEMBERED = 64;

interface RememberedOpen {
  digest: string;
  result: Promise<{ fd: number; ino: number }>;
  /** The descriptor it made, once made: forgotten when that descriptor is closed (its number may name another file then). */
  fd?: number;
}

/** Processes remembered as dead (their late opens refused), the most recent ones. */
const MAX_DEAD = 4096;

export class Descriptors {
  private readonly tables = new Map<string, Map<number, OpenFile>>();
  private total = 0;
  private readonly dead = new Set<string>();
  /** Of those, the ones the kernel's table said were dead too (its word is final for a name). */
  private readonly confirmed = new Set<string>();
  /** Each process's recent opens by request id (under way or done): a resend gets the same descriptor. */
  private readonly opens = new Map<string, Map<string, RememberedOpen>>();

  /**
   * An open, once per (process, request id): an open resent because its answer was lost (a
   * kernel-core restart, a timeout) gets the descriptor the first made, even while the first
   * is still under way, instead of a second descriptor the program never hears of, which
   * would keep the file open in the file system for good. A failed open is forgotten (the
   * resend tries again); an id reused for another open is EINVAL.
   */
  openOnce(
    process: string,
    rid: string | undefined,
    digest: string,
    open: () => Promise<{ fd: number; ino: number }>,
  ): Promise<{ fd: number; ino: number }> {
    if (!rid) return open();
    let mine = this.opens.get(process);
    const seen = mine?.get(rid);
    if (seen) {
      if (seen.digest !== digest)
        return Promise.reject(
          new MkError("EINVAL", `request id ${JSON.stringify(rid.slice(0, 32))} was used by ${process} for another open`),
        );
      return seen.result;
    }
    if (!mine) this.opens.set(process, (mine = new Map()));
    const result = open();
    const entry: RememberedOpen = { digest, result };
    mine.set(rid, entry);
    if (mine.size > MAX_OPENS_REMEMBERED) mine.delete(mine.keys().next().value!);
    result.then(
      (r) => void (entry.fd = r.fd),
      () => {
        if (this.opens.get(process)?.get(rid) === entry) this.opens.get(process)!.delete(rid);
      },
    );
    return result;
  }

  /** Refuses what would not fit before anything is changed: EMFILE, ENFILE. */
  room(process: string): void {
    if (this.total >= MAX_OPEN_FILES) throw new MkError("ENFILE", `vfs holds ${MAX_OPEN_FILES} open files, its most`);
    if ((this.tables.get(process)?.size ?? 0) >= MAX_FDS_PER_PROCESS)
      throw new MkError("EMFILE", `${process} has ${MAX_FDS_PER_PROCESS} descriptors open, its most`);
  }

  isDead(process: string): boolean {
    return this.dead.has(process);
  }

  /** A new incarnation took this endpoint's name (the kernel said it started). */
  alive(process: string): void {
    this.dead.delete(process);
    this.confirmed.delete(process);
  }

  isConfirmedDead(process: string): boolean {
    return this.confirmed.has(process);
  }

  /** The kernel's table says the process is dead too. */
  confirmDead(process: string): void {
    if (!this.dead.has(process)) return;
    this.confirmed.add(process);
    if (this.confirmed.size > MAX_DEAD) this.confirmed.delete(this.confirmed.values().next().value!);
  }

  /** The lowest free descriptor of the process (from 3: 0, 1 and 2 are the console's, by habit). */
  add(process: string, file: OpenFile): number {
    this.room(process);
    let table = this.tables.get(process);
    if (!table) this.tables.set(process, (table = new Map()));
    let fd = 3;
    while (table.has(fd)) fd++;
    table.set(fd, file);
    this.total++;
    return fd;
  }

  get(process: string, fd: number): OpenFile {
    const f = this.tables.get(process)?.get(fd);
    if (!f) throw new MkError("EBADF", `descriptor ${fd} is not open in ${process}`);
    return f;
  }

  remove(process: string, fd: number): OpenFile {
    const f = this.get(process, fd);
    // An open remembered by its id no longer answers with this number: it may soon name another file.
    const mine = this.opens.get(process);
    for (const [rid, e] of mine ?? []) if (e.fd === fd) mine!.delete(rid);
    const table = this.tables.get(process)!;
    table.delete(fd);
    if (table.size === 0) this.tables.delete(process);
    this.total--;
    return f;
  }

  /** Every file of a process that is gone, its table dropped; its late opens will be refused. */
  drop(process: string): OpenFile[] {
    this.opens.delete(process);
    this.dead.add(process);
    if (this.dead.size > MAX_DEAD) {
      const oldest = this.dead.values().next().value!;
      this.dead.delete(oldest);
      this.confirmed.delete(oldest);
    }
    const table = this.tables.get(process);
    if (!table) return [];
    this.tables.delete(process);
    this.total -= table.size;
    return [...table.values()];
  }
}
