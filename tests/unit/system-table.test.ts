// The privilege table loads, and a bad one stops boot with an error naming the line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { type Document, parseDocument } from "yaml";
import { SysCall } from "#abi";
import { deriveSystemYaml } from "../../services/boot/src/derive-table.ts";
import { generateNatsAuth, permissionsFor } from "../../services/boot/src/nats-config.ts";
import { parseSystemTable, portAllowed, SystemTableError } from "#base/system-table.ts";

const shipped = readFileSync(join(import.meta.dirname, "../../etc/system.yaml"), "utf8");

function lineOf(text: string, needle: string): number {
  return text.split("\n").findIndex((l) => l.includes(needle)) + 1;
}

/** The shipped table changed through its YAML document (comments kept), never as text. */
function edited(change: (doc: Document) => void): string {
  const doc = parseDocument(shipped);
  change(doc);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
const withValue = (path: (string | number)[], value: unknown) => edited((d) => d.setIn(path, d.createNode(value)));

/** Refused with the entry's path and line as fields (the message says the same in words). */
function expectError(text: string, where: { path?: string; line?: number }): void {
  let e: unknown;
  try {
    parseSystemTable(text, "etc/system.yaml");
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(SystemTableError);
  expect(e).toMatchObject({ code: "MK_ERR_SYSTEM_TABLE", file: "etc/system.yaml", ...where });
  if (where.line === undefined) expect((e as SystemTableError).line).toBeGreaterThan(0);
}

describe("privilege table", () => {
  it("privilege table - the shipped table loads with ports, IRQs and calls", () => {
    const t = parseSystemTable(shipped);
    const ata = t.services.get("ata")!;
    expect(ata.placement).toBe("user");
    expect(ata.io).toEqual([
      [0x1f0, 0x1f7],
      [0x3f6, 0x3f6],
    ]);
    expect(ata.irq).toEqual([14]);
    expect(ata.calls).toContain(SysCall.SYS_VDEVIO);
    expect(portAllowed(ata, 0x1f7)).toBe(true);
    expect(portAllowed(ata, 0x1f8)).toBe(false);
    expect(t.services.get("mkctl")!.command).toBeUndefined();
    expect(t.kernel.pitHz).toBe(100);
  });

  it("privilege table - a bad port range names file, line and value", () => {
    const bad = withValue(["services", "tty", "io", 0], "0x3F8-0x3FZ");
    expectError(bad, { path: "services.tty.io[0]", line: lineOf(bad, "0x3FZ") });
  });

  it("privilege table - scheduling settings: kernel.sched and per-service sched are read, bad values name their line", () => {
    const t = parseSystemTable(shipped, "etc/system.yaml");
    expect(t.kernel.sched).toEqual({ enabled: true, cpus: 2 });
    const off = parseSystemTable(withValue(["kernel", "sched", "enabled"], false), "etc/system.yaml");
    expect(off.kernel.sched.enabled).toBe(false);
    const cpus = withValue(["kernel", "sched", "cpus"], 0);
    expectError(cpus, { path: "kernel.sched.cpus", line: lineOf(cpus, "cpus: 0") });
    const prio = withValue(["services", "sched", "sched"], { priority: 16 });
    expectError(prio, { path: "services.sched.sched.priority", line: lineOf(prio, "priority: 16") });
    const nice = withValue(["services", "sched", "sched"], { nice: -3, quantum_ms: 50 });
    expect(parseSystemTable(nice, "etc/system.yaml").services.get("sched")!.sched).toEqual({ nice: -3, quantumMs: 50 });
    const key = withValue(["services", "sched", "sched"], { weight: 3 });
    expectError(key, { path: "services.sched.sched.weight", line: lineOf(key, "weight: 3") });
  });

  it("privilege table - an unknown kernel call, key or ipc target is refused with its line", () => {
    const call = withValue(["services", "mkctl", "calls", 1], "reboot");
    expectError(call, { path: "services.mkctl.calls[1]", line: lineOf(call, "reboot") });
    const key = edited((d) => {
      d.deleteIn(["services", "mkctl", "console"]);
      d.setIn(["services", "mkctl", "consle"], true);
    });
    expectError(key, { path: "services.mkctl.consle", line: lineOf(key, "consle") });
    const ipc = withValue(["services", "mkctl", "ipc"], ["ata", "nosuch"]);
    expectError(ipc, { path: "services.mkctl.ipc[1]", line: lineOf(ipc, "nosuch") });
    // A grant listed twice is refused at the second: the lists stay as bounded as the table.
    expectError(withValue(["services", "mkctl", "ipc"], ["ata", "tty", "ata"]), { path: "services.mkctl.ipc[2]" });
    expectError(withValue(["services", "mkctl", "calls"], ["getinfo", "getinfo"]), { path: "services.mkctl.calls[1]" });
  });

  it("privilege table - bad IRQ lines, placements and broken YAML are refused", () => {
    expectError(withValue(["services", "ata", "irq", 0], 16), { path: "services.ata.irq[0]" });
    expectError(withValue(["services", "ata", "placement"], "ring0"), { path: "services.ata.placement" });
    // Broken YAML syntax is the one edit a parser cannot make: text, on purpose.
    expectError(shipped.replace("  pit_hz: 100", "  pit_hz: [100"), { path: undefined }); // a line, no entry
    expectError(withValue(["kernel", "http_port"], 99999), { path: "kernel.http_port" });
    expectError("services: {}\n", { path: "hardware" });
  });

  it("privilege table - what would break isolation is refused with the line: shared ports or IRQs, kernel ports, wildcards, reserved labels", () => {
    const extra = (block: string) => deriveSystemYaml(shipped, { services: block });
    // Each: the block added, a needle on the offending line, the entry refused.
    const cases: [string, string, string][] = [
      ['  twin:\n    io: ["0x1F4-0x1F5"]', "0x1F4-0x1F5", "services.twin.io[0]"], // overlaps ata's ports
      ["  twin:\n    irq: [14]", "irq: [14]", "services.twin.irq[0]"], // ata's line
      ['  wide:\n    io: ["0x0-0xFFFF"]', "0x0-0xFFFF", "services.wide.io[0]"], // the PIC's ports
      ['  clock:\n    io: ["0x40"]', "0x40", "services.clock.io[0]"], // the PIT's ports
      ["  clock:\n    irq: [0]", "irq: [0]", "services.clock.irq[0]"], // kernel-core's line
      ['  all:\n    ipc: ["*"]', '"*"', "services.all.ipc[0]"], // a wildcard
      ['  all:\n    ipc: ["ata.>"]', "ata.>", "services.all.ipc[0]"], // a wildcard
      ["  sys:\n    ipc: [ata]", "  sys:", "services.sys"], // reserved
      ["  hardware:\n    ipc: [ata]", "  hardware:", "services.hardware"], // reserved
    ];
    for (const [block, needle, path] of cases) {
      const text = extra(block);
      expectError(text, { path, line: lineOf(text.slice(text.indexOf(block)), needle) + lineOf(text, block.split("\n")[0]) - 1 });
    }
  });

  it("privilege table - paths: a sendrec's path per label it may message; an unknown path, or a label outside its ipc list, is refused with the line", () => {
    const extra = (block: string) => deriveSystemYaml(shipped, { services: block });
    const ok = parseSystemTable(extra("  fast:\n    ipc: [ata, tty]\n    paths: { ata: reply-direct, tty: trap }\n"));
    expect([...ok.services.get("fast")!.paths]).toEqual([
      ["ata", "reply-direct"],
      ["tty", "trap"],
    ]);
    expect(ok.services.get("ata")!.paths.size).toBe(0); // none named: every pair by the trap
    const cases: [string, string, string][] = [
      ["  fast:\n    ipc: [ata]\n    paths: { tty: reply-direct }", "reply-direct", "services.fast.paths.tty"], // not in its ipc list
      ["  fast:\n    ipc: [ata]\n    paths: { ata: teleport }", "teleport", "services.fast.paths.ata"], // no such path
    ];
    for (const [block, needle, path] of cases) {
      const text = extra(block);
      const fast = text.indexOf("  fast:");
      expectError(text, { path, line: lineOf(text.slice(fast), needle) + lineOf(text, "  fast:") - 1 });
    }
  });

  it("privilege table - NATS users may publish only their own trap and answers to who may ask them, subscribe only their own endpoint and inbox, with no response grants", () => {
    const t = parseSystemTable(shipped);
    // Answers: into the kernel's answer inbox (not its bus inbox), and into the sub-inbox
    // for direct answers of each label whose table entry puts its pair with ata on
    // reply-direct (mfs): not the rest of mfs's inbox, and not rs, the dashboard or the shell,
    // which reach ata by the trap.
    expect(permissionsFor(t, "ata")).toEqual({
      publish: ["mk.trap.ata", "_INBOX.kernel.ep.>", "_INBOX.mfs.rd.>"],
      subscribe: ["mk.ep.ata.>", "_INBOX.ata.>", "mk.kernel.boot", "mk.kernel.dead"],
      allowResponses: false,
    });
    // A run with MK_IPC_PATH=reply-direct: every label whose ipc names ata (a tool with instances in each instance's sub-inbox too).
    const askers = [...t.services.values()].filter((s) => s.ipc.includes("ata")).map((s) => s.label);
    const direct = permissionsFor(t, "ata", { ipcPath: "reply-direct" }).publish;
    for (const a of askers) expect(direct).toContain(`_INBOX.${a}.rd.>`);
    expect(direct).toContain("_INBOX.mkctl.*.rd.>");
    expect(direct.filter((p) => p.startsWith("_INBOX.") && !p.endsWith(".rd.>")).sort()).toEqual(["_INBOX.kernel.ep.>"]);
    expect(permissionsFor(t, "vfs").publish).toEqual(["mk.trap.vfs", "_INBOX.kernel.ep.>", "_INBOX.workload.rd.>"]);
    // No service user has response grants: a reply subject a server puts on an answer gives the caller no right.
    for (const svc of t.services.keys()) expect(permissionsFor(t, svc).allowResponses, svc).toBe(false);
    // mkctl runs as instances (mkctl.<id>): its own trap subject and its instances'.
    const traps = (label: string) => permissionsFor(t, label).publish.filter((s) => !s.startsWith("_INBOX."));
    expect(traps("mkctl")).toEqual(["mk.trap.mkctl", "mk.trap.mkctl.*", "mk.console.in"]);
    expect(traps("chaos")).toEqual(["mk.trap.chaos"]);
    expect(permissionsFor(t, "kernel").publish).toContain("mk.hw.io");
    for (const svc of t.services.keys()) expect(JSON.stringify(permissionsFor(t, svc))).not.toContain("mk.hw");
    const auth = generateNatsAuth(t, { clientUrl: "nats://127.0.0.1:4222", listen: "127.0.0.1:4222" });
    expect(auth.config).toContain("system_account: SYS");
    expect(new Set([...auth.credentials.values()].map((c) => c.password)).size).toBe(auth.credentials.size);
  });

  it("privilege table - the NATS config holds bcrypt hashes of the passwords, never a password", () => {
    const auth = generateNatsAuth(parseSystemTable(shipped), { clientUrl: "nats://127.0.0.1:4222", listen: "127.0.0.1:4222" });
    const ata = /user: "ata", password: "([^"]+)"/.exec(auth.config)![1];
    expect(ata).toMatch(/^\$2a\$06\$[./A-Za-z0-9]{53}$/); // the prefix nats-server 2.9 recognises
    expect(bcrypt.compareSync(auth.credentials.get("ata")!.password, ata)).toBe(true);
    for (const c of auth.credentials.values()) expect(auth.config).not.toContain(c.password);
  });

  it("privilege table - disk areas and block and input grants: resolved to sectors for any disk size; a bad one names its entry and line", () => {
    const t = parseSystemTable(shipped, "etc/system.yaml");
    expect(t.hardware.areas).toEqual([
      { name: "raw", first: 0, last: 65535 },
      { name: "minix", first: 65536, last: 131071 },
    ]);
    expect(t.services.get("mfs")!.block).toEqual([{ device: "ata", area: "minix", first: 65536, last: 131071, access: "rw" }]);
    expect(t.services.get("shell")!.block).toEqual([{ device: "ata", area: "raw", first: 0, last: 65535, access: "r" }]);
    expect(t.services.get("shell")!.input).toEqual(["tty"]);
    // No user program but the shell reads the console; none writes the file system's area.
    for (const svc of t.services.values()) {
      if (svc.label !== "shell") expect(svc.input, svc.label).toEqual([]);
      if (svc.label !== "mfs")
        expect(
          svc.block.filter((g) => g.area === "minix"),
          svc.label,
        ).toEqual([]);
    }
    expect(parseSystemTable(withValue(["hardware", "disk", "sectors"], 32768)).hardware.areas[1]).toEqual({
      name: "minix",
      first: 16384,
      last: 32767,
    });
    const fails = (text: string, needle: string, path: string) => {
      let err: unknown;
      try {
        parseSystemTable(text, "etc/system.yaml");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SystemTableError);
      expect(err).toMatchObject({ path, line: lineOf(text, needle) });
    };
    const area = ["hardware", "disk", "areas"];
    fails(withValue([...area, "raw"], "0%-60%"), "minix: 50%-100%", "hardware.disk.areas.minix");
    fails(withValue([...area, "minix"], "50%-101%"), "minix: 50%-101%", "hardware.disk.areas.minix");
    fails(withValue([...area, "minix"], "65536-131072"), "minix: 65536-131072", "hardware.disk.areas.minix");
    const mfsBlock = ["services", "mfs", "block", "ata"];
    fails(
      edited((d) => {
        d.deleteIn([...mfsBlock, "minix"]);
        d.setIn([...mfsBlock, "nosuch"], "rw");
      }),
      "nosuch: rw",
      "services.mfs.block.ata.nosuch",
    );
    fails(withValue([...mfsBlock, "minix"], "x"), "minix: x", "services.mfs.block.ata.minix");
    // A block grant to a driver the service may not message.
    fails(
      edited((d) => {
        d.setIn(["services", "mfs", "ipc"], ["procfs"]);
        d.deleteIn(["services", "mfs", "paths"]); // its path to ata would be refused first
      }),
      "minix: rw",
      "services.mfs.block",
    );
  });
});
