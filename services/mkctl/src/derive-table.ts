// A privilege table derived from the shipped etc/system.yaml, for tests and benchmarks:
// extra services (a YAML block of two-space-indented entries) go in before mkctl, and the
// kernel's HTTP port, the disk size and placements can be changed, and services left
// unstarted (the demo's: dashboard, workload, shell). The result is text
// that kernel-core loads and validates like any other table.
export interface DeriveOptions {
  services?: string;
  httpPort?: number;
  sectors?: number;
  placement?: Record<string, "user" | "kernel">;
  /** Labels whose `command:` is dropped: they stay in the table as clients nobody starts. */
  unstarted?: string[];
}

/** The demo's services: tests and chaos experiments leave them out unless they ask. */
export const DEMO_SERVICES = ["dashboard", "workload", "shell"];

export function deriveSystemYaml(shipped: string, o: DeriveOptions = {}): string {
  let yaml = shipped;
  if (o.httpPort !== undefined) yaml = yaml.replace(/http_port: \d+/, `http_port: ${o.httpPort}`);
  if (o.sectors !== undefined) yaml = yaml.replace(/sectors: \d+/, `sectors: ${o.sectors}`);
  for (const [label, placement] of Object.entries(o.placement ?? {})) {
    yaml = yaml.replace(new RegExp(`(\\n  ${label}:[^\\n]*\\n    placement: )\\w+`), `$1${placement}`);
  }
  for (const label of o.unstarted ?? []) {
    yaml = yaml.replace(new RegExp(`(\\n  ${label}:[^\\n]*\\n(?:    (?!command:)[^\\n]*\\n)*)    command:[^\\n]*\\n`), "$1");
  }
  if (o.services) yaml = yaml.replace(/\n {2}mkctl:/, `\n${o.services.replace(/^\n+|\n+$/g, "")}\n\n  mkctl:`);
  return yaml;
}
