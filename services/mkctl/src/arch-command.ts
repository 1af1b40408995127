// mkctl arch: which kernel architecture the running system is (etc/arch's profiles), and
// where each service sits: inside kernel-core or in its own process. Read from the
// kernel's endpoint table, so it says what runs, not what a file asked for.
import type { EndpointInfo } from "#abi";
import { archOf, loadArch } from "#boot";
import { textTable } from "#base/text-table.ts";
import { sysGetEndpoints, type RunningService } from "#libsys";

export const ARCH_USAGE = `       mkctl arch [--json] [--run-dir DIR]   (the running architecture, and where each service sits)`;

interface ArchReport {
  arch: string;
  /** The profile it matches (etc/arch/NAME.yaml), or null for a placement no profile names. */
  profile: string | null;
  /** The services inside kernel-core. */
  kernel: string[];
  services: { label: string; placement: "kernel" | "user"; pid: number; state: string }[];
}

/** The live incarnation of each label (the newest one that is not dead); kernel-core's own row and tools' instances (mkctl.<id>) left out. */
function live(rows: readonly EndpointInfo[]): EndpointInfo[] {
  const by = new Map<string, EndpointInfo>();
  for (const r of rows) {
    if (r.label === "kernel" || r.label.includes(".") || r.state === "dead") continue;
    const seen = by.get(r.label);
    if (!seen || r.generation > seen.generation) by.set(r.label, r);
  }
  return [...by.values()].sort((a, b) => a.label.localeCompare(b.label));
}

function archReport(rows: readonly EndpointInfo[]): ArchReport {
  const services = live(rows).map((r) => ({ label: r.label, placement: r.placement, pid: r.pid, state: r.state }));
  const kernel = services.filter((s) => s.placement === "kernel").map((s) => s.label);
  const arch = archOf(kernel);
  return { arch, profile: arch === "custom" ? null : loadArch(arch).file, kernel, services };
}

export async function archCommand(client: RunningService, json: boolean): Promise<void> {
  const r = archReport(await sysGetEndpoints(client.sys));
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(`architecture: ${r.arch}${r.profile ? ` (${r.profile})` : " (no profile in etc/arch places the services so)"}`);
  console.log(`inside kernel-core: ${r.kernel.length > 0 ? r.kernel.join(", ") : "nothing but the kernel"}`);
  console.log(
    textTable(
      ["LABEL", "PLACEMENT", "PID", "STATE"],
      r.services.map((s) => [s.label, s.placement, String(s.pid), s.state]),
    ),
  );
}
