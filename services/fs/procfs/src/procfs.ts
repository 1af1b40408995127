// procfs: a read-only file system of what the kernel knows (MINIX's /proc, Linux's), served
// over the FS protocol like mfs, mounted by vfs at /proc. Built from the kernel's event
// stream (who started, became ready, died, and why), with getinfo read once at start, again
// after a gap in the stream or a kernel restart, and for a file's live counters when the
// file is read. Never from polling.
//
//   /proc/uptime            seconds since kernel-core booted
//   /proc/endpoints         the endpoint table, one row per service
//   /proc/<label>/status    state, endpoint, generation, pid, host, placement, since, restarts, messages, last death,
//                           and the scheduler's view: T when it stopped the process, queue, quantum, nice, CPU, switches
//   /proc/<label>/generation, restarts, messages, privileges (JSON)
//
// Inode numbers follow from names (a hash of the label), so a handle held across a
// restart of procfs still names the same file.
import { crc32 } from "node:zlib";
import { baseLabel, Fs, MkError, S, type EndpointInfo, type FileStat, type KernelEvent, type ProcessInfo, type Reply } from "#abi";
import { followEvents, sysGetEndpoints, sysGetProcesses, type Server, type Sys } from "#libsys";

const ROOT = 1;
const SYSTEM_FILES = ["uptime", "endpoints"] as const;
const LABEL_FILES = ["status", "generation", "restarts", "messages", "privileges"] as const;
/** Per-label inodes: a directory and its files, LABEL_SLOT apart. */
const LABEL_SLOT = 8;
const LABEL_BASE = 64;
const utf8 = new TextEncoder();

interface Row {
  info: EndpointInfo;
  /** The last death the event stream told of. */
  lastDeath?: { cause: string; detail?: string; at: string };
}

type Node =
  | { kind: "root" }
  | { kind: "system"; name: (typeof SYSTEM_FILES)[number] }
  | { kind: "dir"; label: string }
  | { kind: "file"; label: string; name: (typeof LABEL_FILES)[number] };

export class Procfs {
  private readonly sys: Sys;
  private readonly rows = new Map<string, Row>();
  /** label -> its directory's inode, and back. */
  private readonly inoOf = new Map<string, number>();
  private readonly labelOf = new Map<number, string>();
  private bootedAt = 0;
  private mountedAt: number;

  constructor(sys: Sys) {
    this.sys = sys;
    this.mountedAt = Math.floor(sys.clock.now() / 1000);
  }

  private dirIno(label: string): number {
    let ino = this.inoOf.get(label);
    if (ino !== undefined) return ino;
    let slot = crc32(label) % 0x1000000;
    while (this.labelOf.has(LABEL_BASE + slot * LABEL_SLOT)) slot = (slot + 1) % 0x1000000;
    ino = LABEL_BASE + slot * LABEL_SLOT;
    this.inoOf.set(label, ino);
    this.labelOf.set(ino, label);
    return ino;
  }

  private async reload(): Promise<void> {
    const rows = await sysGetEndpoints(this.sys);
    for (const info of rows) {
      const had = this.rows.get(info.label);
      this.rows.set(info.label, { info, ...(had?.lastDeath ? { lastDeath: had.lastDeath } : {}) });
      this.dirIno(info.label);
      if (info.label === "kernel") this.bootedAt = Date.parse(info.since);
    }
  }

  private onEvent(ev: KernelEvent): void {
    if (ev.kind === "denied" || ev.kind === "sched") return;
    // A run of a tool (mkctl.<id>) that ended leaves no directory: each run has its own name.
    if (ev.kind === "dead" && baseLabel(ev.label) !== ev.label) {
      this.rows.delete(ev.label);
      const ino = this.inoOf.get(ev.label);
      this.inoOf.delete(ev.label);
      if (ino !== undefined) this.labelOf.delete(ino);
      return;
    }
    const row = this.rows.get(ev.label);
    const state = ev.kind === "dead" ? "dead" : ev.kind === "ready" ? "ready" : "starting";
    const info: EndpointInfo = {
      ...(row?.info.privileges ? { privileges: row.info.privileges } : {}),
      endpoint: ev.endpoint,
      label: ev.label,
      generation: ev.generation,
      state,
      placement: ev.placement,
      pid: ev.pid,
      host: ev.host,
      since: ev.at,
      messages: row && row.info.generation === ev.generation ? row.info.messages : 0,
    };
    const lastDeath =
      ev.kind === "dead" ? { cause: ev.cause ?? "unknown", ...(ev.detail ? { detail: ev.detail } : {}), at: ev.at } : row?.lastDeath;
    this.rows.set(ev.label, { info, ...(lastDeath ? { lastDeath } : {}) });
    this.dirIno(ev.label);
  }

  /** The process table's row for label's live incarnation (state T: stopped by the scheduler), when the kernel lets procfs read it. */
  private async process(label: string): Promise<ProcessInfo | undefined> {
    try {
      return (await sysGetProcesses(this.sys)).processes.find((p) => p.label === label);
    } catch {
      return undefined;
    }
  }

  private node(ino: number): Node {
    if (ino === ROOT) return { kind: "root" };
    if (ino >= 2 && ino < 2 + SYSTEM_FILES.length) return { kind: "system", name: SYSTEM_FILES[ino - 2] };
    const off = (ino - LABEL_BASE) % LABEL_SLOT;
    const label = this.labelOf.get(ino - off);
    if (label === undefined || ino < LABEL_BASE || off > LABEL_FILES.length) throw new MkError("ESTALE", `procfs has no inode ${ino}`);
    return off === 0 ? { kind: "dir", label } : { kind: "file", label, name: LABEL_FILES[off - 1] };
  }

  /** A file's content now; live counters are read from the kernel as the file is read. */
  private async content(n: Node): Promise<Uint8Array> {
    if (n.kind === "system" && n.name === "uptime") {
      return utf8.encode(`${((this.sys.clock.now() - this.bootedAt) / 1000).toFixed(2)}\n`);
    }
    if (n.kind === "system") {
      await this.reload();
      const rows = [...this.rows.values()].map((r) => r.info);
      const head = "ENDPOINT STATE PLACEMENT PID MESSAGES SINCE".split(" ");
      const body = rows.map((r) => [r.endpoint, r.state, r.placement, String(r.pid), String(r.messages), r.since]);
      const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
      return utf8.encode(
        `${[head, ...body]
          .map((c) =>
            c
              .map((x, i) => x.padEnd(w[i]))
              .join("  ")
              .trimEnd(),
          )
          .join("\n")}\n`,
      );
    }
    if (n.kind !== "file") throw new MkError("EISDIR", "a directory of /proc has no content to read");
    if (n.name === "messages" || n.name === "status" || n.name === "privileges") await this.reload();
    const proc = n.name === "status" ? await this.process(n.label) : undefined;
    const row = this.rows.get(n.label);
    if (!row) throw new MkError("ESTALE", `procfs knows no service ${n.label}`);
    const i = row.info;
    switch (n.name) {
      case "generation":
        return utf8.encode(`${i.generation}\n`);
      case "restarts":
        return utf8.encode(`${Math.max(0, i.generation - 1)}\n`);
      case "messages":
        return utf8.encode(`${i.messages}\n`);
      case "privileges":
        return utf8.encode(`${JSON.stringify(i.privileges ?? {}, null, 2)}\n`);
      case "status": {
        const lines = [
          ["Name", i.label],
          ["Endpoint", i.endpoint],
          ["State", i.state],
          ["Generation", i.generation],
          ["Restarts", Math.max(0, i.generation - 1)],
          ["Pid", i.pid],
          ["Host", i.host],
          ["Placement", i.placement],
          ["Since", i.since],
          ["Messages", i.messages],
          ...(proc
            ? [
                ["Sched", `${proc.stat} (${proc.state})`],
                ["Priority", proc.priority],
                ["Quantum", `${proc.quantum_ms} ms`],
                ["Nice", proc.nice],
                ["CpuMs", proc.cpu_ms],
                ["Switches", `${proc.voluntary} voluntary, ${proc.involuntary} involuntary`],
              ]
            : []),
          ...(row.lastDeath
            ? [["LastDeath", `${row.lastDeath.cause}${row.lastDeath.detail ? ` (${row.lastDeath.detail})` : ""} at ${row.lastDeath.at}`]]
            : []),
        ];
        return utf8.encode(`${lines.map(([k, v]) => `${k}:\t${v}`).join("\n")}\n`);
      }
    }
  }

  private async stat(ino: number): Promise<FileStat> {
    const n = this.node(ino);
    const dir = n.kind === "root" || n.kind === "dir";
    const size = dir ? 0 : (await this.content(n)).length;
    const t =
      n.kind === "dir" || n.kind === "file"
        ? Math.floor(Date.parse(this.rows.get(n.label)?.info.since ?? "") / 1000) || this.mountedAt
        : this.mountedAt;
    return {
      ino,
      mode: dir ? S.IFDIR | 0o555 : S.IFREG | 0o444,
      nlinks: dir ? 2 : 1,
      uid: 0,
      gid: 0,
      size,
      atime: t,
      mtime: t,
      ctime: t,
      blocks: 0,
    };
  }

  private entries(ino: number): { name: string; ino: number; type: "file" | "dir" }[] {
    const n = this.node(ino);
    if (n.kind === "root") {
      return [
        { name: ".", ino: ROOT, type: "dir" },
        { name: "..", ino: ROOT, type: "dir" },
        ...SYSTEM_FILES.map((name, i) => ({ name, ino: 2 + i, type: "file" as const })),
        ...[...this.rows.keys()].sort().map((label) => ({ name: label, ino: this.dirIno(label), type: "dir" as const })),
      ];
    }
    if (n.kind !== "dir") throw new MkError("ENOTDIR", `inode ${ino} of /proc is not a directory`);
    const d = this.dirIno(n.label);
    return [
      { name: ".", ino: d, type: "dir" },
      { name: "..", ino: ROOT, type: "dir" },
      ...LABEL_FILES.map((name, i) => ({ name, ino: d + 1 + i, type: "file" as const })),
    ];
  }

  private readOnly(): never {
    throw new MkError("EROFS", "/proc is read-only");
  }

  server(): Server {
    const stat = async (ino: number): Promise<Reply> => ({ args: await this.stat(ino) });
    return {
      concurrency: 1,
      initFresh: async () => {
        await followEvents(this.sys, (ev, ctx) => {
          if (ctx.newBoot || ctx.missed > 0) {
            this.reload().catch((e) => this.sys.log.warn({ err: e }, "reading the endpoint table again failed"));
          }
          this.onEvent(ev);
        });
        await this.reload();
      },
      handlers: {
        [Fs.FS_LOOKUP]: async (r) => {
          const e = this.entries(r.args.dir).find((x) => x.name === r.args.name);
          if (!e) throw new MkError("ENOENT", `/proc has no ${r.args.name} there`);
          return stat(e.ino);
        },
        [Fs.FS_STAT]: async (r) => stat(r.args.ino),
        [Fs.FS_READ]: async (r): Promise<Reply> => {
          const all = await this.content(this.node(r.args.ino));
          const data = all.subarray(Math.min(r.args.offset, all.length), Math.min(r.args.offset + r.args.count, all.length));
          return { args: { count: data.length }, data };
        },
        [Fs.FS_GETDENTS]: async (r): Promise<Reply> => {
          const all = this.entries(r.args.ino);
          const page = all.slice(r.args.cookie, r.args.cookie + r.args.max);
          const next = r.args.cookie + page.length < all.length ? r.args.cookie + page.length : undefined;
          return { args: { count: page.length, ...(next !== undefined ? { next } : {}) }, data: utf8.encode(JSON.stringify(page)) };
        },
        [Fs.FS_GETNODE]: async (r) => (this.node(r.args.ino), {}),
        [Fs.FS_PUTNODE]: async () => ({}),
        [Fs.FS_SYNC]: async () => ({ args: { verifier: this.sys.generation } }),
        [Fs.FS_STATFS]: async () => ({
          args: {
            blockSize: 1024,
            blocks: 0,
            freeBlocks: 0,
            inodes: this.rows.size * (LABEL_FILES.length + 1) + 3,
            freeInodes: 0,
            nameMax: 60,
          },
        }),
        [Fs.FS_CREATE]: () => this.readOnly(),
        [Fs.FS_MKDIR]: () => this.readOnly(),
        [Fs.FS_UNLINK]: () => this.readOnly(),
        [Fs.FS_RMDIR]: () => this.readOnly(),
        [Fs.FS_RENAME]: () => this.readOnly(),
        [Fs.FS_WRITE]: () => this.readOnly(),
        [Fs.FS_TRUNC]: () => this.readOnly(),
        [Fs.FS_SETATTR]: () => this.readOnly(),
      },
    };
  }
}
