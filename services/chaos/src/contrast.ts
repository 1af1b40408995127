// npm run chaos:contrast [-- --json]: the trade the seeds are about, in numbers. The same
// kill storm on the microkernel placement (ata its own process) and the monolithic one
// (ata inside kernel-core), side by side.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "#boot";
import { loadExperiment } from "./experiment.ts";
import { runExperiment } from "./experiment-run.ts";
import type { Journal } from "./runner.ts";
import { textTable } from "#base/text-table.ts";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, help: { type: "boolean", default: false } } });
if (values.help) {
  console.log(
    "usage: npm run chaos:contrast [-- --json]\n  runs experiments/ata-kill-storm.yaml and experiments/ata-kill-monolithic.yaml and prints both reports side by side",
  );
  process.exit(0);
}
const services = ["ata", "tty", "rs", "shell", "chaos", "mkctl"];
const runs: [string, Journal][] = [];
for (const [name, file] of [
  ["microkernel (ata: user)", "ata-kill-storm.yaml"],
  ["monolithic (ata: kernel)", "ata-kill-monolithic.yaml"],
] as const) {
  if (!values.json) console.error(`chaos:contrast: running ${file} (${name})`);
  runs.push([name, await runExperiment(loadExperiment(join(PROJECT_ROOT, "experiments", file), services))]);
}
if (values.json) {
  console.log(JSON.stringify({ runs: runs.map(([placement, j]) => ({ placement, status: j.status, report: j.report })) }));
  process.exit(0);
}
const ms = (v: number | null) => (v === null ? "-" : `${v} ms`);
const rows: [string, (j: Journal) => string][] = [
  ["status", (j) => j.status],
  ["faults injected", (j) => String(j.report.faults_injected)],
  ["user operations", (j) => String(j.report.ops_attempted)],
  ["operations failed", (j) => String(j.report.ops_failed)],
  ["bytes verified", (j) => String(j.report.bytes_verified)],
  ["time to serve again p50", (j) => (j.report.system_down ? "system down" : ms(j.report.recover_ms.p50))],
  ["time to serve again p99", (j) => (j.report.system_down ? "system down" : ms(j.report.recover_ms.p99))],
  ["kernel-core", (j) => (j.report.system_down ? "DOWN after the first fault" : `up, ${j.report.kernel_restarts} restarts`)],
];
const head = ["", ...runs.map(([n]) => n)];
const body = rows.map(([label, f]) => [label, ...runs.map(([, j]) => f(j))]);
console.log(textTable(head, body));
process.exit(0);
