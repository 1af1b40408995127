// The chaos engine as a library (#chaos): the experiment parser, the runner and its targets
// (a booted process-mode system, a running one, the compose stack). mkctl chaos run uses it
// from the host, and the dashboard runs a shipped experiment from inside the system.
export { composeTarget } from "./compose-target.ts";
export { loadExperiment, type Experiment } from "./experiment.ts";
export { runExperiment } from "./experiment-run.ts";
export { experimentSystemYaml, summary, summaryRows, type ChaosTarget, type Journal } from "./runner.ts";
