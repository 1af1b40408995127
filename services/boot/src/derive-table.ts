// A privilege table derived from the shipped etc/system.yaml, for tests, benchmarks and
// chaos runs: extra services go in before mkctl, the kernel's HTTP port, the disk size,
// placements and restart policies can be changed, and services left unstarted (the
// demo's: dashboard, workload, shell). Edited with the yaml package's Document API, so
// comments and layout survive and no edit depends on how a line is spelled. The result
// is text that kernel-core loads and validates like any other table.
import { isMap, parseDocument, type Document, type YAMLMap } from "yaml";
import { SystemTableError } from "#base/system-table.ts";

const DERIVED = "etc/system.yaml (derived)";
const noService = (label: string, why: string) =>
  new SystemTableError(`${DERIVED}: no service ${label} ${why}`, DERIVED, undefined, { path: `services.${label}` });

interface RestartYaml {
  heartbeat_ms?: number;
  backoff_min_ms?: number;
  backoff_max_ms?: number;
  intensity?: { restarts?: number; seconds?: number };
  standby?: boolean;
}

export interface DeriveOptions {
  /** Extra service entries, as YAML (two-space-indented `label:` blocks, as under `services:`). */
  services?: string;
  httpPort?: number;
  sectors?: number;
  placement?: Record<string, "user" | "kernel">;
  /** Restart policies that replace the shipped one of each label named. */
  restart?: Record<string, RestartYaml>;
  /** Labels whose `command:` is dropped: they stay in the table as clients nobody starts. */
  unstarted?: string[];
  /** Any further change, on the parsed document. */
  edit?: (doc: Document) => void;
}

/** The demo's services: tests and chaos experiments leave them out unless they ask. */
export const DEMO_SERVICES = ["dashboard", "workload", "shell"];

export function deriveSystemYaml(shipped: string, o: DeriveOptions = {}): string {
  const doc = parseDocument(shipped);
  if (doc.errors.length > 0) throw doc.errors[0];
  const services = doc.get("services");
  if (!isMap(services))
    throw new SystemTableError(`${DERIVED}: the table has no services mapping`, DERIVED, undefined, { path: "services" });
  const has = (label: string) => services.has(label);
  // The added services first: the options below may place, restart or leave them unstarted too.
  if (o.services) addServices(doc, services as YAMLMap, o.services);
  if (o.httpPort !== undefined) doc.setIn(["kernel", "http_port"], o.httpPort);
  if (o.sectors !== undefined) doc.setIn(["hardware", "disk", "sectors"], o.sectors);
  for (const [label, placement] of Object.entries(o.placement ?? {})) {
    if (!has(label)) throw noService(label, "to place");
    doc.setIn(["services", label, "placement"], placement);
  }
  for (const [label, r] of Object.entries(o.restart ?? {})) {
    if (!has(label)) throw noService(label, "to give a restart policy");
    const policy = doc.createNode({
      heartbeat_ms: r.heartbeat_ms ?? 1000,
      backoff_min_ms: r.backoff_min_ms ?? 100,
      backoff_max_ms: r.backoff_max_ms ?? 5000,
      intensity: { restarts: r.intensity?.restarts ?? 5, seconds: r.intensity?.seconds ?? 10 },
      standby: r.standby ?? false,
    }) as YAMLMap;
    policy.flow = true;
    doc.setIn(["services", label, "restart"], policy);
  }
  for (const label of o.unstarted ?? []) if (has(label)) doc.deleteIn(["services", label, "command"]);
  o.edit?.(doc);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** Inserts the entries of a `services:` block before mkctl (the tools come last, as shipped). */
function addServices(doc: Document, services: YAMLMap, block: string): void {
  const extra = parseDocument(`services:\n${block.replace(/^\n+|\n+$/g, "")}\n`);
  if (extra.errors.length > 0) throw extra.errors[0];
  const entries = extra.get("services");
  if (!isMap(entries)) return;
  const at = services.items.findIndex((p) => String((p.key as { value?: unknown })?.value ?? p.key) === "mkctl");
  for (const p of entries.items) {
    const label = String((p.key as { value?: unknown })?.value ?? p.key);
    if (services.has(label))
      throw new SystemTableError(`${DERIVED}: service ${label} is already in the table`, DERIVED, undefined, { path: `services.${label}` });
  }
  const pairs = entries.items.map((p) => doc.createPair(p.key, p.value));
  services.items.splice(at < 0 ? services.items.length : at, 0, ...pairs);
}
