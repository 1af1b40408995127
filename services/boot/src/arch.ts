// Kernel architectures as named profiles (etc/arch/NAME.yaml): which services a profile
// loads into kernel-core. The privilege table stays the one source of truth: a profile
// only chooses each service's placement, and the table it makes is validated like any
// other (mkctl up --arch NAME boots it). Which architecture is running is read back from
// the kernel's endpoint table: the set of services inside kernel-core names it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseDocument, isMap, isSeq, isScalar } from "yaml";
import { LocalError } from "#base/errors.ts";
import { parseSystemTable, SystemTableError, type SystemTable } from "#base/system-table.ts";
import { PROJECT_ROOT } from "./boot.ts";
import { deriveSystemYaml } from "./derive-table.ts";

export interface ArchProfile {
  name: string;
  /** The profile's file, relative to the checkout. */
  file: string;
  /** The services it loads into kernel-core; every other service with a module runs as its own process. */
  kernel: string[];
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const archDir = (root: string) => join(root, "etc", "arch");

/** The profiles etc/arch holds, by name. */
export function archNames(root = PROJECT_ROOT): string[] {
  return readdirSync(archDir(root))
    .filter((f) => f.endsWith(".yaml") && NAME.test(f.slice(0, -5)))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Reads and checks etc/arch/NAME.yaml: one field, `kernel`, a list of labels. */
export function loadArch(name: string, root = PROJECT_ROOT): ArchProfile {
  const known = archNames(root);
  if (!NAME.test(name) || !known.includes(name))
    throw new LocalError("MK_ERR_USAGE", `no architecture ${JSON.stringify(name.slice(0, 40))}: etc/arch has ${known.join(", ")}`, {
      detail: { arg: "arch", label: name.slice(0, 40) },
    });
  const path = join(archDir(root), `${name}.yaml`);
  const file = relative(root, path);
  const doc = parseDocument(readFileSync(path, "utf8"));
  const fail = (message: string, at: string, label?: string) =>
    new SystemTableError(`${file}: ${at}: ${message}`, file, undefined, { path: at, ...(label ? { detail: { arg: at, label } } : {}) });
  if (doc.errors.length > 0) throw fail(doc.errors[0].message, "(yaml)");
  const top = doc.contents;
  if (!isMap(top)) throw fail("a profile is a mapping with one field, kernel: [labels]", "(top)");
  for (const item of top.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (key !== "kernel") throw fail(`unknown field (a profile has only kernel: [labels])`, key);
  }
  const list = top.get("kernel", true);
  if (!isSeq(list)) throw fail("must be a list of service labels (kernel: [] for none)", "kernel");
  const kernel = list.items.map((x, i) => {
    const v = isScalar(x) ? x.value : undefined;
    if (typeof v !== "string" || v === "") throw fail("must be a service label", `kernel[${i}]`);
    return v;
  });
  const twice = kernel.find((l, i) => kernel.indexOf(l) !== i);
  if (twice) throw fail(`${twice} is named twice`, "kernel", twice);
  return { name, file, kernel };
}

/**
 * Each service's placement under the profile: inside kernel-core for those it names, its
 * own process for every other service that could be loaded (has a module). A label the
 * table lacks, or one without a module (a client, a tool), is refused by name.
 */
export function archPlacement(table: SystemTable, arch: ArchProfile): Record<string, "user" | "kernel"> {
  arch.kernel.forEach((label, i) => {
    const svc = table.services.get(label);
    const at = `kernel[${i}]`;
    const detail = { arg: at, label };
    if (!svc)
      throw new SystemTableError(`${arch.file}: ${at}: no service ${label} in ${table.file}`, arch.file, undefined, { path: at, detail });
    if (!svc.module || !svc.command)
      throw new SystemTableError(
        `${arch.file}: ${at}: ${label} has no module and command in ${table.file}: only a driver or server can be loaded into kernel-core`,
        arch.file,
        undefined,
        { path: at, detail: { arg: "module", label } },
      );
  });
  const out: Record<string, "user" | "kernel"> = {};
  for (const svc of table.services.values())
    if (svc.module && svc.command) out[svc.label] = arch.kernel.includes(svc.label) ? "kernel" : "user";
  return out;
}

/**
 * The table `systemFile` with the profile's placements, written beside the run directory
 * (named by its content, so a running system's table is never rewritten) and validated as
 * kernel-core will load it. Returns its path.
 */
export function writeArchTable(systemFile: string, arch: ArchProfile, outDir: string): string {
  const text = readFileSync(systemFile, "utf8");
  const placement = archPlacement(parseSystemTable(text, systemFile), arch);
  const derived = `# ${arch.name}: ${systemFile} with the placements of ${arch.file} (mkctl up --arch ${arch.name})\n${deriveSystemYaml(text, { placement })}`;
  parseSystemTable(derived, `${systemFile} (--arch ${arch.name})`);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `system.${arch.name}.${createHash("sha256").update(derived).digest("hex").slice(0, 12)}.yaml`);
  if (!existsSync(out)) writeFileSync(out, derived);
  return out;
}

/** The profile whose kernel set is exactly the services running inside kernel-core, or "custom". */
export function archOf(inKernel: readonly string[], root = PROJECT_ROOT): string {
  const have = new Set(inKernel);
  for (const name of archNames(root)) {
    const p = loadArch(name, root);
    if (p.kernel.length === have.size && p.kernel.every((l) => have.has(l))) return name;
  }
  return "custom";
}
