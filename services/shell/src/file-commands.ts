// The file commands, as a user program sees the file systems: ls, cat, cp, mkdir, rm,
// through libsys's FsClient (vfs), which rides out a restart of vfs or mfs. There is no
// working directory: a relative path is taken from /.
import { isDirMode, isRegMode, MAX_FS_IO, MkError } from "#abi";
import type { FsClient } from "#libsys";
import { usage, type Command } from "./command.ts";
import { columns, type Output } from "./output.ts";

/** Options first (-l, -p, -r), then operands; an unknown option is a usage error. */
function split(c: Command, args: string[], allowed: string): { flags: Set<string>; rest: string[] } {
  const flags = new Set<string>();
  let i = 0;
  for (; i < args.length && args[i].startsWith("-") && args[i] !== "-"; i++) {
    if (args[i] === "--") {
      i++;
      break;
    }
    for (const f of args[i].slice(1)) {
      if (!allowed.includes(f)) throw usage(c, `unknown option -${f}`);
      flags.add(f);
    }
  }
  return { flags, rest: args.slice(i) };
}

function child(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? "";
}

function modeString(mode: number): string {
  let s = isDirMode(mode) ? "d" : isRegMode(mode) ? "-" : "?";
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    s += (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + (bits & 1 ? "x" : "-");
  }
  return s;
}

export const ls: Command = {
  name: "ls",
  usage: "ls [-l] [PATH]",
  summary: "list a directory (a trailing / marks a directory); -l with mode, links and size",
  async run(args, out, { fs }) {
    const { flags, rest } = split(this, args, "l");
    if (rest.length > 1) throw usage(this);
    const path = rest[0] ?? "/";
    const st = await fs.stat(path);
    if (!st.isDirectory()) {
      out.line(flags.has("l") ? columns([[modeString(st.mode), String(st.nlink), String(st.size), path]]) : path);
      return;
    }
    const entries = (await fs.readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (!flags.has("l")) {
      for (const e of entries) out.line(e.type === "dir" ? `${e.name}/` : e.name);
      return;
    }
    const rows: string[][] = [];
    for (const e of entries) {
      if (out.full) break;
      const s = await fs.stat(child(path, e.name));
      rows.push([modeString(s.mode), String(s.nlink), String(s.size), e.type === "dir" ? `${e.name}/` : e.name]);
    }
    if (rows.length > 0) out.line(columns(rows));
  },
};

async function catOne(fs: FsClient, path: string, out: Output): Promise<void> {
  if ((await fs.stat(path)).isDirectory()) throw new MkError("EISDIR", `${path} is a directory`);
  const h = await fs.open(path, "r");
  try {
    const decoder = new TextDecoder();
    while (!out.full) {
      const chunk = await h.read(MAX_FS_IO);
      if (chunk.length === 0) break;
      out.write(decoder.decode(chunk, { stream: true }));
    }
    out.write(decoder.decode());
  } finally {
    await h.close();
  }
}

export const cat: Command = {
  name: "cat",
  usage: "cat PATH...",
  summary: "print files",
  async run(args, out, { fs }) {
    if (args.length === 0) throw usage(this);
    for (const path of args) await catOne(fs, path, out);
  },
};

export const cp: Command = {
  name: "cp",
  usage: "cp SRC DST",
  summary: "copy a file (into DST/ when DST is a directory)",
  async run(args, _out, { fs }) {
    if (args.length !== 2) throw usage(this);
    const [src, dst] = args;
    if ((await fs.stat(src)).isDirectory()) throw new MkError("EISDIR", `${src} is a directory (cp copies one file)`);
    const target = await fs.stat(dst).then(
      (s) => (s.isDirectory() ? child(dst, baseName(src)) : dst),
      (e: unknown) => {
        if (e instanceof MkError && e.errno === "ENOENT") return dst;
        throw e;
      },
    );
    const from = await fs.open(src, "r");
    try {
      // Opened after the source: a missing source must not cost the target its contents.
      const to = await fs.open(target, "w");
      try {
        for (;;) {
          const chunk = await from.read(MAX_FS_IO);
          if (chunk.length === 0) break;
          await to.write(chunk);
        }
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
  },
};

export const mkdir: Command = {
  name: "mkdir",
  usage: "mkdir [-p] PATH...",
  summary: "make directories; -p makes the parents too and accepts one that exists",
  async run(args, _out, { fs }) {
    const { flags, rest } = split(this, args, "p");
    if (rest.length === 0) throw usage(this);
    for (const path of rest) await fs.mkdir(path, { recursive: flags.has("p") });
  },
};

export const rm: Command = {
  name: "rm",
  usage: "rm [-r] PATH...",
  summary: "remove files; -r removes a directory and everything in it",
  async run(args, _out, { fs }) {
    const { flags, rest } = split(this, args, "rf");
    if (rest.length === 0) throw usage(this);
    for (const path of rest) {
      const recursive = flags.has("r");
      if (!recursive) {
        const st = await fs.stat(path).catch((e: unknown) => {
          if (flags.has("f") && e instanceof MkError && e.errno === "ENOENT") return undefined;
          throw e;
        });
        if (!st) continue;
        if (st.isDirectory()) throw new MkError("EISDIR", `${path} is a directory (rm -r removes it)`);
      }
      await fs.rm(path, { recursive, force: flags.has("f") });
    }
  },
};
