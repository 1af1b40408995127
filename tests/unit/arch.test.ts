// Kernel architectures as profiles (etc/arch): each shipped profile places the shipped
// table's services, the table it makes is valid, a running placement is named back, and a
// bad profile or name is refused naming what is wrong, before anything boots.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSystemTable } from "#base/system-table.ts";
import { archNames, archOf, archPlacement, loadArch, writeArchTable } from "../../services/boot/src/arch.ts";

const ROOT = join(import.meta.dirname, "../..");
const SHIPPED = join(ROOT, "etc/system.yaml");
const table = parseSystemTable(readFileSync(SHIPPED, "utf8"), SHIPPED);
const tmp = mkdtempSync(join(tmpdir(), "mk-arch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A checkout-like root whose etc/arch holds one profile, `bad`, with this text. */
function rootWith(text: string): string {
  const root = mkdtempSync(join(tmp, "root-"));
  mkdirSync(join(root, "etc/arch"), { recursive: true });
  writeFileSync(join(root, "etc/arch/bad.yaml"), text);
  return root;
}

describe("architectures", () => {
  it("arch - the shipped profiles place the shipped table: microkernel as it is, hybrid the file systems inside, monolithic every driver and server", () => {
    expect(archNames()).toEqual(["hybrid", "microkernel", "monolithic"]);
    const inKernel = (name: string) =>
      Object.entries(archPlacement(table, loadArch(name)))
        .filter(([, p]) => p === "kernel")
        .map(([l]) => l)
        .sort();
    expect(inKernel("microkernel")).toEqual([]);
    expect(inKernel("hybrid")).toEqual(["mfs", "procfs", "vfs"]);
    expect(inKernel("monolithic")).toEqual(["ata", "mfs", "procfs", "sched", "tty", "vfs"]);
    // The microkernel profile is the shipped table's own placement.
    for (const [label, p] of Object.entries(archPlacement(table, loadArch("microkernel"))))
      expect(table.services.get(label)!.placement).toBe(p);
    // User programs and tools stay out of every profile's kernel.
    for (const name of archNames()) expect(archPlacement(table, loadArch(name)).workload).toBe("user");
  });

  it("arch - the table a profile makes is written once, by its content, and loads as the kernel loads it", () => {
    const out = join(tmp, "arch");
    const a = writeArchTable(SHIPPED, loadArch("monolithic"), out);
    expect(writeArchTable(SHIPPED, loadArch("monolithic"), out)).toBe(a);
    expect(writeArchTable(SHIPPED, loadArch("hybrid"), out)).not.toBe(a);
    const t = parseSystemTable(readFileSync(a, "utf8"), a);
    expect(t.services.get("ata")!.placement).toBe("kernel");
    expect(t.services.get("workload")!.placement).toBe("user");
    // Everything else is the shipped table's.
    expect(t.services.get("mfs")!.block).toEqual(table.services.get("mfs")!.block);
  });

  it("arch - the services inside kernel-core name the architecture; a placement no profile makes is custom", () => {
    expect(archOf([])).toBe("microkernel");
    expect(archOf(["vfs", "procfs", "mfs"])).toBe("hybrid");
    expect(archOf(["ata", "tty", "mfs", "procfs", "vfs", "sched"])).toBe("monolithic");
    expect(archOf(["ata"])).toBe("custom");
    expect(archOf(["vfs", "mfs"])).toBe("custom");
  });

  it("arch - a bad profile is refused naming the entry, before anything boots", () => {
    // What each refusal names: the entry (path) and, where a label is at fault, the label and why (detail).
    const cases: [string, { path: string; detail?: { arg: string; label: string } }][] = [
      ["kernel: [ata, teleporter]\n", { path: "kernel[1]", detail: { arg: "kernel[1]", label: "teleporter" } }], // no such service
      ["kernel: [dashboard]\n", { path: "kernel[0]", detail: { arg: "module", label: "dashboard" } }], // a program with no module
      ["kernel: [mkctl]\n", { path: "kernel[0]", detail: { arg: "module", label: "mkctl" } }], // a tool
      ["kernel: [ata]\nplacement: { ata: kernel }\n", { path: "placement" }], // an unknown field
      ["kernel: ata\n", { path: "kernel" }], // not a list
      ["kernel: [ata, ata]\n", { path: "kernel", detail: { arg: "kernel", label: "ata" } }], // twice
      ["kernel: [7]\n", { path: "kernel[0]" }], // not a label
      ["- ata\n", { path: "(top)" }], // not a mapping
    ];
    for (const [text, want] of cases) {
      const root = rootWith(text);
      let err: unknown;
      try {
        archPlacement(table, loadArch("bad", root));
      } catch (e) {
        err = e;
      }
      expect(err, text).toMatchObject({ code: "MK_ERR_SYSTEM_TABLE", file: "etc/arch/bad.yaml", ...want });
      if (!want.detail) expect((err as { detail?: unknown }).detail, text).toBeUndefined();
    }
    const unknown = (name: string) => {
      try {
        loadArch(name);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(unknown("exokernel")).toMatchObject({ code: "MK_ERR_USAGE", detail: { arg: "arch", label: "exokernel" } });
    expect(unknown("../system")).toMatchObject({ code: "MK_ERR_USAGE", detail: { arg: "arch", label: "../system" } });
  });

  it("arch - mkctl up --arch with an unknown architecture exits 64 naming it and the ones there are, and starts nothing", () => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "services/mkctl/src/main.ts"), "up", "--arch", "exokernel", "--run-dir", join(tmp, "never")],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(r.stderr).toMatch(/^mkctl: no architecture "exokernel": etc\/arch has hybrid, microkernel, monolithic$/m);
    expect(r.status).toBe(64);
    expect(() => readFileSync(join(tmp, "never", "state.json"))).toThrow();
  });
});
