// The chaos runner as a library (#chaos): mkctl chaos run uses it from the host, and the
// dashboard runs a shipped experiment with its own connection from inside the system.
export { HARDWARE_FAULTS, loadExperiment, type Experiment } from "./experiment.ts";
export { kernelOverHttp, runExperiment, summary, summaryRows, type ChaosTarget, type Journal, type RunOptions } from "./runner.ts";
