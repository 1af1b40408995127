// mkctl fs (ls, cat, put, get, stat, rm, mkdir, mv, df, tree), mkctl mkfs and mkctl fsck:
// the file systems of a running mkos, as a user program sees them (libsys's FsClient,
// through vfs), in process mode and in compose. mkfs and fsck go to mfs itself.
import { createReadStream, createWriteStream, type ReadStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { Fs, isDirMode, isRegMode, MkError, type Dirent } from "#abi";
import { FsClient, instanceId, LocalError, type RunningService, type Stats } from "#libsys";

export const FS_USAGE = `       mkctl fs ls [-l] [--json] [PATH] | cat PATH | stat [--json] PATH | tree [PATH]   [--run-dir DIR]
       mkctl fs put LOCAL PATH | get PATH LOCAL    (LOCAL - is stdin / stdout)   [--run-dir DIR]
       mkctl fs mkdir [-p] PATH | rm [-r] PATH | mv FROM TO (rename(2): TO is the new name) | df [--json]
       mkctl fsck [--repair] [--json] | mkfs [--block-size 1024|2048|4096] --yes   [--run-dir DIR]`;

export interface FsFlags {
  json: boolean;
  long: boolean;
  recursive: boolean;
  parents: boolean;
  repair: boolean;
  yes: boolean;
  blockSize?: string;
}

/** A local file to read, refused (ENOENT, EISDIR...) before anything remote is touched. */
async function openLocal(path: string): Promise<ReadStream> {
  try {
    if ((await stat(path)).isDirectory()) throw new LocalError("MK_ERR_USAGE", `${path} is a directory, not a file to put`);
    const stream = createReadStream(path);
    await new Promise<void>((resolve, reject) => stream.once("open", () => resolve()).once("error", reject));
    return stream;
  } catch (e) {
    throw e instanceof LocalError ? e : new LocalError("MK_ERR_USAGE", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** A local file to write, refused (ENOENT, EACCES...) as a usage error before anything is read. */
async function openLocalWrite(path: string): Promise<NodeJS.WritableStream> {
  const stream = createWriteStream(path);
  try {
    await new Promise<void>((resolve, reject) => stream.once("open", () => resolve()).once("error", reject));
  } catch (e) {
    throw new LocalError("MK_ERR_USAGE", `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  return stream;
}

function modeString(mode: number): string {
  const type = isDirMode(mode) ? "d" : isRegMode(mode) ? "-" : "?";
  let s = type;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    s += (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + (bits & 1 ? "x" : "-");
  }
  return s;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function columns(rows: string[][], right: number[] = []): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function statJson(path: string, s: Stats) {
  return {
    path,
    ino: s.ino,
    type: s.isDirectory() ? "dir" : s.isFile() ? "file" : "other",
    mode: `0${(s.mode & 0o7777).toString(8)}`,
    nlink: s.nlink,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    blocks: s.blocks,
    mtime: new Date(s.mtimeMs).toISOString(),
    dev: s.dev,
  };
}

function child(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

async function tree(fs: FsClient, path: string, prefix: string, out: string[], counts: { dirs: number; files: number }): Promise<void> {
  const entries = (await fs.readdir(path, { withFileTypes: true })).sort((a: Dirent, b: Dirent) => a.name.localeCompare(b.name));
  for (const [i, e] of entries.entries()) {
    const last = i === entries.length - 1;
    out.push(`${prefix}${last ? "└── " : "├── "}${e.name}${e.type === "dir" ? "/" : ""}`);
    if (e.type === "dir") {
      counts.dirs++;
      await tree(fs, child(path, e.name), prefix + (last ? "    " : "│   "), out, counts);
    } else counts.files++;
  }
}

/** Runs one `mkctl fs` command; prints to stdout. */
export async function fsCommand(client: RunningService, sub: string | undefined, args: string[], o: FsFlags): Promise<void> {
  const fs = new FsClient(client.sys);
  const need = (n: number, what: string) => {
    if (args.length < n) throw new LocalError("MK_ERR_USAGE", `mkctl fs ${sub} needs ${what}\n${FS_USAGE}`);
  };
  const out = (s: string): void => {
    process.stdout.write(s.endsWith("\n") || s === "" ? s : `${s}\n`);
  };
  switch (sub) {
    case "ls": {
      const path = args[0] ?? "/";
      const st = await fs.stat(path);
      const names = st.isDirectory() ? (await fs.readdir(path)).sort() : [path];
      const paths = st.isDirectory() ? names.map((n) => child(path, n)) : [path];
      if (!o.long && !o.json) {
        const kinds = st.isDirectory()
          ? new Map((await fs.readdir(path, { withFileTypes: true })).map((e) => [e.name, e.type]))
          : new Map();
        return out(names.map((n) => (kinds.get(n) === "dir" ? `${n}/` : n)).join("\n"));
      }
      const stats = await Promise.all(paths.map(async (p) => [p, await fs.stat(p)] as const));
      if (o.json)
        return out(
          JSON.stringify(
            stats.map(([p, s]) => statJson(p, s)),
            null,
            2,
          ),
        );
      return out(
        columns(
          stats.map(([p, s], i) => [modeString(s.mode), String(s.nlink), String(s.size), when(s.mtimeMs), st.isDirectory() ? names[i] : p]),
          [1, 2],
        ),
      );
    }
    case "stat": {
      need(1, "a PATH");
      const s = await fs.stat(args[0]);
      if (o.json) return out(JSON.stringify(statJson(args[0], s), null, 2));
      return out(
        [
          `  File: ${args[0]}`,
          `  Size: ${s.size}\tBlocks: ${s.blocks}\t${s.isDirectory() ? "directory" : s.isFile() ? "regular file" : "other"}`,
          `Device: ${s.dev}\tInode: ${s.ino}\tLinks: ${s.nlink}`,
          `Access: (0${(s.mode & 0o7777).toString(8)}/${modeString(s.mode)})  Uid: ${s.uid}  Gid: ${s.gid}`,
          `Access: ${when(s.atimeMs)}`,
          `Modify: ${when(s.mtimeMs)}`,
          `Change: ${when(s.ctimeMs)}`,
        ].join("\n"),
      );
    }
    case "cat": {
      need(1, "a PATH");
      if ((await fs.stat(args[0])).isDirectory()) throw new MkError("EISDIR", `${args[0]} is a directory (mkctl fs ls lists it)`);
      const h = await fs.open(args[0], "r");
      try {
        for (;;) {
          const chunk = await h.read();
          if (chunk.length === 0) break;
          await new Promise<void>((res, rej) => process.stdout.write(chunk, (e) => (e ? rej(e) : res())));
        }
      } finally {
        await h.close();
      }
      return;
    }
    case "put": {
      need(2, "LOCAL and PATH");
      // The local file is opened first: a missing one must not cost the remote file its contents.
      const src = args[0] === "-" ? process.stdin : await openLocal(args[0]);
      const target = args[1].startsWith("/") ? args[1] : `/${args[1]}`;
      if (
        target.endsWith("/") ||
        (await fs.stat(target).then(
          (st) => st.isDirectory(),
          () => false,
        ))
      )
        throw new MkError("EISDIR", `${args[1]} is a directory: put names the file to write`);
      // Into a hidden name beside it, renamed over PATH once every byte is on disk: a put that
      // fails part way (a broken pipe, a lost connection) leaves PATH as it was.
      const slash = target.lastIndexOf("/");
      const part = `${target.slice(0, slash)}/.${target.slice(slash + 1).slice(0, 32)}.part-${instanceId()}`;
      const h = await fs.open(part, "wx");
      let bytes = 0;
      try {
        try {
          for await (const chunk of src) {
            await h.write(chunk as Buffer);
            bytes += (chunk as Buffer).length;
          }
          await h.sync();
        } finally {
          await h.close();
        }
        await fs.rename(part, target);
      } catch (e) {
        await fs.unlink(part).catch(() => undefined);
        throw e;
      }
      if (args[0] !== "-") console.error(`${args[0]} -> ${args[1]}: ${bytes} bytes`);
      return;
    }
    case "get": {
      need(2, "PATH and LOCAL");
      if ((await fs.stat(args[0])).isDirectory()) throw new MkError("EISDIR", `${args[0]} is a directory: get copies one file`);
      const h = await fs.open(args[0], "r");
      // Into LOCAL.part, renamed to LOCAL when every byte is there: a failed get leaves LOCAL as it was.
      const part = args[1] === "-" ? undefined : `${args[1]}.part`;
      try {
        const first = await h.read();
        const dst = part ? await openLocalWrite(part) : process.stdout;
        await pipeline(async function* () {
          if (first.length === 0) return;
          yield first;
          for (;;) {
            const chunk = await h.read();
            if (chunk.length === 0) return;
            yield chunk;
          }
        }, dst);
        if (part) await rename(part, args[1]);
      } catch (e) {
        if (part) await rm(part, { force: true });
        throw e;
      } finally {
        await h.close();
      }
      return;
    }
    case "mkdir":
      need(1, "a PATH");
      return fs.mkdir(args[0], { recursive: o.parents });
    case "rm":
      need(1, "a PATH");
      if (!o.recursive && (await fs.stat(args[0])).isDirectory())
        throw new MkError("EISDIR", `${args[0]} is a directory (mkctl fs rm -r removes it and everything in it)`);
      return fs.rm(args[0], { recursive: o.recursive });
    case "mv":
      need(2, "FROM and TO");
      return fs.rename(args[0], args[1]);
    case "df": {
      const rows = [];
      for (const m of await fs.mounts()) rows.push(await fs.statfs(m.path));
      if (o.json) return out(JSON.stringify(rows, null, 2));
      const kib = (blocks: number, size: number) => String(Math.floor((blocks * size) / 1024));
      return out(
        columns(
          [
            ["SERVER", "1K-BLOCKS", "USED", "AVAILABLE", "USE%", "INODES", "IFREE", "MOUNTED ON"],
            ...rows.map((r) => [
              r.dev,
              kib(r.blocks, r.blockSize),
              kib(r.blocks - r.freeBlocks, r.blockSize),
              kib(r.freeBlocks, r.blockSize),
              `${r.blocks ? Math.round((100 * (r.blocks - r.freeBlocks)) / r.blocks) : 0}%`,
              String(r.inodes),
              String(r.freeInodes),
              r.mount,
            ]),
          ],
          [1, 2, 3, 4, 5, 6],
        ),
      );
    }
    case "tree": {
      const path = args[0] ?? "/";
      const lines = [path];
      const counts = { dirs: 0, files: 0 };
      await tree(fs, path, "", lines, counts);
      return out(`${lines.join("\n")}\n\n${counts.dirs} directories, ${counts.files} files`);
    }
    default:
      throw new LocalError("MK_ERR_USAGE", `${sub ? `unknown fs command ${sub}` : "mkctl fs needs a command"}\n${FS_USAGE}`);
  }
}

/** mkctl fsck: mfs checks (and with --repair mends) its disk; exit 0 when clean, 1 when problems remain. */
export async function fsckCommand(client: RunningService, o: FsFlags): Promise<number> {
  const r = await client.sys.sendrec("mfs", Fs.FS_FSCK, { repair: o.repair ? 1 : 0 }, undefined, 600_000);
  const a = r.args;
  const report = JSON.parse(new TextDecoder().decode(r.data)) as {
    problems: { kind: string; detail: string }[];
    files?: number;
    directories?: number;
  };
  if (o.json) console.log(JSON.stringify(report, null, 2));
  else {
    for (const p of report.problems.slice(0, 200)) console.log(`${p.kind}: ${p.detail}`);
    if (report.problems.length > 200) console.log(`... and ${report.problems.length - 200} more (--json lists all)`);
    console.log(
      `${report.files ?? "?"} files, ${report.directories ?? "?"} directories: ${a.clean ? "clean" : o.repair ? `${a.repaired} problem(s) repaired` : `${a.problems} problem(s); mkctl fsck --repair mends them`}`,
    );
  }
  return a.clean || (o.repair && a.repaired >= a.problems) ? 0 : 1;
}

/** mkctl mkfs: a new, empty file system on the disk, through mfs (refused while files are open). */
export async function mkfsCommand(client: RunningService, o: FsFlags): Promise<void> {
  if (!o.yes) throw new LocalError("MK_ERR_USAGE", "mkctl mkfs erases every file on the disk: add --yes to go on");
  const sizes = ["1024", "2048", "4096"] as const;
  const bs = sizes.find((s) => s === o.blockSize);
  if (o.blockSize !== undefined && bs === undefined)
    throw new LocalError("MK_ERR_USAGE", `--block-size ${o.blockSize}: use 1024, 2048 or 4096`);
  const s = (await client.sys.sendrec("mfs", Fs.FS_MKFS, bs ? { blockSize: bs } : {}, undefined, 600_000)).args;
  console.log(`made a MINIX v3 file system: ${s.blocks} blocks of ${s.blockSize} bytes, ${s.inodes} inodes`);
}

/** An errno from a file-system command, said the way a shell user reads it: "ENOENT: ...". */
export function fsError(e: unknown): unknown {
  return e instanceof MkError && e.errno !== "OK" ? new MkError(e.errno, `${e.errno}: ${e.message}`, { cause: e }) : e;
}
