// Imports run one way: services -> libsys -> base -> abi, and kernel-core -> base, abi.
// Parts reach each other only through the faces package.json names (#abi, #base/*,
// #libsys); kernel-core's entry point is the one kernel file that loads libsys (to host
// in-kernel servers), and no server or driver imports NATS.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
}

/** The part a file belongs to, for the rules below: every service is a part of its own. */
function partOf(file: string): string {
  if (file.startsWith("kernel-core/abi/")) return "abi";
  if (file.startsWith("kernel-core/base/")) return "base";
  if (file === "kernel-core/src/main.ts") return "kernel-entry";
  if (file.startsWith("kernel-core/src/")) return "kernel";
  if (file.startsWith("hardware-emulator/")) return "emulator";
  const service = /^services\/(?:(?:drivers|fs)\/)?([^/]+)\//.exec(file);
  if (service && !["drivers", "fs"].includes(service[1])) return service[1];
  return `unplaced: ${file}`;
}

const SERVER = ["#abi", "#libsys"];
/** What each part may import by name; nothing reaches another part by a relative path. */
const FACES: Record<string, string[]> = {
  abi: [],
  base: ["#abi"],
  kernel: ["#abi", "#base"],
  // The kernel's entry point hosts in-kernel servers: the one kernel file that loads libsys.
  "kernel-entry": ["#abi", "#base", "#libsys", "#kernel"],
  emulator: ["#abi", "#base"],
  libsys: ["#abi", "#base"],
  ata: SERVER,
  tty: SERVER,
  mfs: SERVER,
  vfs: SERVER,
  procfs: SERVER,
  sched: SERVER,
  shell: SERVER,
  workload: SERVER,
  rs: ["#abi", "#base", "#libsys"],
  // Process-mode boot: starts the parts, rs under its keeper.
  boot: ["#abi", "#base", "#libsys", "#rs"],
  // The chaos engine: experiments, the runner, its targets; it boots systems through #boot.
  chaos: ["#abi", "#base", "#libsys", "#boot", "#workload"],
  // The command line: a thin shell over boot, chaos and libsys.
  mkctl: ["#abi", "#base", "#libsys", "#boot", "#chaos"],
  // The dashboard runs shipped experiments with the chaos engine, as its own label; nothing of mkctl.
  dashboard: ["#abi", "#libsys", "#chaos"],
};

describe("layering", () => {
  const files = ["kernel-core", "hardware-emulator", "services"].flatMap(sources);

  it("layering - every part imports other parts only through the faces it may use", () => {
    const bad: string[] = [];
    for (const file of files) {
      const part = partOf(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith("#")) {
          const face = spec.startsWith("#base/") ? "#base" : spec;
          if (!(FACES[part] ?? []).includes(face)) bad.push(`${file} (${part}) imports ${spec}`);
        } else if (spec.startsWith(".")) {
          const target = relative(ROOT, join(ROOT, file, "..", spec));
          if (partOf(target) !== part) {
            bad.push(`${file} (${part}) reaches into ${target} by a relative path`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("layering - no server, driver or tool imports NATS; only base and libsys's transport speak it", () => {
    const natsUsers = files.filter((f) => importsOf(f).some((s) => s.startsWith("@nats-io/")));
    for (const f of natsUsers) expect(["base", "libsys", "kernel", "kernel-entry", "emulator"], f).toContain(partOf(f));
    expect(natsUsers.filter((f) => partOf(f) === "libsys")).toEqual(["services/libsys/src/nats-transport.ts"]);
  });

  it("layering - kernel-core's folders import only folders below them: table, metrics, hw, irq, sched, events, calls, ipc, http", () => {
    const ORDER = ["table", "metrics", "hw", "irq", "sched", "events", "calls", "ipc", "http"];
    const folderOf = (f: string) => /^kernel-core\/src\/([^/]+)\//.exec(f)?.[1];
    const upward: string[] = [];
    for (const f of files.filter((x) => folderOf(x) !== undefined)) {
      const from = ORDER.indexOf(folderOf(f)!);
      expect(from, `${f}: a kernel folder the order does not name`).toBeGreaterThanOrEqual(0);
      for (const spec of importsOf(f).filter((s) => s.startsWith("."))) {
        const target = relative(ROOT, join(ROOT, f, "..", spec));
        const to = folderOf(target) === undefined ? ORDER.length : ORDER.indexOf(folderOf(target)!);
        if (to > from) upward.push(`${f} imports ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("layering - no module imports one that imports it back (types included): a cycle is two modules that should be one, or a third", () => {
    const deps = new Map(
      files.map((f) => [
        f,
        importsOf(f)
          .filter((s) => s.startsWith("."))
          .map((s) => relative(ROOT, join(ROOT, f, "..", s))),
      ]),
    );
    const cycles = files.flatMap((a) =>
      (deps.get(a) ?? []).filter((b) => a < b && (deps.get(b) ?? []).includes(a)).map((b) => `${a} <-> ${b}`),
    );
    expect(cycles).toEqual([]);
  });

  it("layering - the faces package.json names resolve to the files they promise", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { imports: Record<string, string> };
    expect(pkg.imports).toEqual({
      "#abi": "./kernel-core/abi/index.ts",
      "#base/*": "./kernel-core/base/*",
      "#kernel": "./kernel-core/src/index.ts",
      "#libsys": "./services/libsys/src/index.ts",
      "#rs": "./services/rs/src/index.ts",
      "#workload": "./services/workload/src/index.ts",
      "#boot": "./services/boot/src/index.ts",
      "#chaos": "./services/chaos/src/index.ts",
    });
  });
});
