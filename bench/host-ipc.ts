// The host's own IPC, measured beside mkos's paths by npm run lab:ipc: a request of N bytes
// and a 1-byte answer between two processes over a pipe pair, a Unix socket and TCP on
// 127.0.0.1, from Node (this file, its child run with --serve) and from C (host-ipc.c,
// compiled with the machine's gcc into a temporary directory when gcc is there), and
// memcpy's bandwidth in C. So a reader sees what is Node's share and what is the OS's.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quantile } from "./measure.ts";

export interface HostRow {
  mechanism: string;
  lang: "node" | "c";
  size: number;
  p50_us: number;
  p99_us: number;
}

/** The child: answers each request of `size` bytes (1 for 0) with one byte, until its input ends. */
function serve(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, size: number): void {
  const want = Math.max(1, size);
  let have = 0;
  const ack = Buffer.from([1]);
  input.on("data", (chunk: Buffer) => {
    have += chunk.length;
    while (have >= want) {
      have -= want;
      output.write(ack);
    }
  });
}

if (process.argv[2] === "--serve") {
  const [, , , how, sizeText, where] = process.argv;
  const size = Number(sizeText);
  if (how === "pipe") serve(process.stdin, process.stdout, size);
  else {
    const s = how === "tcp" ? connect(Number(where), "127.0.0.1") : connect(where);
    s.setNoDelay(true);
    serve(s, s, size);
  }
}

function stats(samples: number[]): { p50_us: number; p99_us: number } {
  samples.sort((a, b) => a - b);
  return { p50_us: +quantile(samples, 0.5).toFixed(2), p99_us: +quantile(samples, 0.99).toFixed(2) };
}

/** Round trips of `size` bytes out, 1 back, over an open duplex pair. */
async function pingpong(out: NodeJS.WritableStream, back: NodeJS.ReadableStream, size: number, rounds: number): Promise<number[]> {
  const payload = Buffer.alloc(Math.max(1, size), 7);
  let wake: (() => void) | undefined;
  let acks = 0;
  back.on("data", (chunk: Buffer) => {
    acks += chunk.length;
    wake?.();
  });
  const samples: number[] = [];
  for (let i = 0; i < rounds + 50; i++) {
    const t0 = process.hrtime.bigint();
    const answered = new Promise<void>((r) => (wake = r));
    const before = acks;
    out.write(payload);
    while (acks === before) await answered;
    if (i >= 50) samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return samples;
}

async function nodeRows(size: number, rounds: number): Promise<HostRow[]> {
  const self = import.meta.filename;
  const rows: HostRow[] = [];
  // Pipe: the child's stdin and stdout.
  const child = spawn(process.execPath, [self, "--serve", "pipe", String(size)], { stdio: ["pipe", "pipe", "inherit"] });
  rows.push({ mechanism: "pipe", lang: "node", size, ...stats(await pingpong(child.stdin, child.stdout, size, rounds)) });
  child.stdin.end();
  // A Unix socket and TCP on 127.0.0.1: the child connects back.
  const dir = mkdtempSync(join(tmpdir(), "mkos-lab-"));
  try {
    for (const how of ["unix", "tcp"] as const) {
      const accepted = new Promise<Socket>((resolve) => {
        const server = createServer((s) => {
          server.close();
          resolve(s);
        });
        if (how === "unix") server.listen(join(dir, "s"), () => spawnPeer(join(dir, "s")));
        else server.listen(0, "127.0.0.1", () => spawnPeer(String((server.address() as { port: number }).port)));
        function spawnPeer(where: string): void {
          spawn(process.execPath, [self, "--serve", how, String(size), where], { stdio: ["ignore", "ignore", "inherit"] });
        }
      });
      const s = await accepted;
      s.setNoDelay(true);
      rows.push({
        mechanism: how === "unix" ? "unix-socket" : "tcp-loopback",
        lang: "node",
        size,
        ...stats(await pingpong(s, s, size, rounds)),
      });
      s.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The C harness, when gcc is there: its rows per size, and memcpy's bytes per µs. */
function cRows(sizes: number[], rounds: number): { rows: HostRow[]; copyBytesPerUs?: number } {
  const dir = mkdtempSync(join(tmpdir(), "mkos-lab-c-"));
  try {
    const bin = join(dir, "host-ipc");
    try {
      execFileSync("gcc", ["-O2", "-o", bin, join(import.meta.dirname, "host-ipc.c")], { stdio: "ignore" });
    } catch {
      return { rows: [] }; // no C compiler: the Node rows stand alone
    }
    const rows: HostRow[] = [];
    let copyBytesPerUs: number | undefined;
    for (const size of sizes) {
      const out = execFileSync(bin, [String(size), String(rounds)], { encoding: "utf8", timeout: 60_000 });
      for (const line of out.trim().split("\n")) {
        const r = JSON.parse(line) as { mechanism: string; p50_us?: number; p99_us?: number; bytes_per_us?: number };
        if (r.mechanism === "memcpy") copyBytesPerUs = r.bytes_per_us;
        else rows.push({ mechanism: r.mechanism, lang: "c", size, p50_us: r.p50_us!, p99_us: r.p99_us! });
      }
    }
    return { rows, copyBytesPerUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function hostIpc(sizes: number[], rounds: number): Promise<{ rows: HostRow[]; copyBytesPerUs?: number }> {
  const rows: HostRow[] = [];
  for (const size of sizes) rows.push(...(await nodeRows(size, rounds)));
  const c = cRows(sizes, rounds * 4);
  return { rows: [...rows, ...c.rows], copyBytesPerUs: c.copyBytesPerUs };
}
