// Shipped chaos experiments run from the page: the chaos runner (#chaos) on the running
// system, as the dashboard's own label (its privileges: chaos, kill, hwfault, events),
// one at a time. Kills and hangs go through SYS_KILL; kernel-core's readiness and
// incarnation come from the statistics stream. The runner pauses the demo workload
// meanwhile (WORKLOAD_PAUSE, as for any experiment on a running system). Start and end
// reach every page as `experiment` events, and the end as a timeline entry.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { MkError } from "#abi";
import { sysKill, type RunningService, type SystemTable } from "#libsys";
import { loadExperiment, runExperiment, summaryRows, type ChaosTarget, type Experiment, type Journal } from "#chaos";
import type { Model } from "./model.ts";

export interface ExperimentEvent {
  name: string;
  status: "running" | Journal["status"];
  summary?: [string, string][];
  report?: Journal["report"];
}

export class Experiments {
  private readonly table: SystemTable;
  private readonly model: Model;
  private readonly client: () => RunningService | undefined;
  private readonly shipped = new Map<string, Experiment>();
  private running?: string;
  /** Where start and end go (the HTTP face's broadcast). */
  onEvent: (e: ExperimentEvent) => void = () => undefined;

  constructor(o: { dir: string; table: SystemTable; model: Model; client: () => RunningService | undefined }) {
    this.table = o.table;
    this.model = o.model;
    this.client = o.client;
    const labels = [...o.table.services.keys()];
    let files: string[] = [];
    try {
      files = readdirSync(o.dir)
        .filter((f) => f.endsWith(".yaml"))
        .sort();
    } catch {
      // no experiments folder: the menu is empty
    }
    for (const f of files) {
      try {
        const exp = loadExperiment(join(o.dir, f), labels);
        // One with a `system` section wants a system booted with its placements and restart
        // policies (mkctl chaos run boots one); on this one it could push a service past its
        // intensity into `failed`. The page offers those written for any running system.
        // A restart of kernel-core needs hands on its process, which the page has not.
        const restarts = exp.method.some((s) => s.type === "action" && s.fault === "restart");
        if (Object.keys(exp.system.placement).length === 0 && Object.keys(exp.system.restart).length === 0 && !restarts)
          this.shipped.set(f.replace(/\.yaml$/, ""), exp);
      } catch {
        // a file that does not load is not offered (mkctl chaos run names what is wrong with it)
      }
    }
  }

  /** The demo's own experiment first: it is what a newcomer should run. */
  list(): { name: string; title: string }[] {
    const all = [...this.shipped].map(([name, e]) => ({ name, title: e.title }));
    return [...all.filter((e) => e.name === "demo"), ...all.filter((e) => e.name !== "demo")];
  }

  /** Starts name; the journal arrives as an event. EBUSY while one runs, ENOENT for an unknown name. */
  start(name: string): void {
    const exp = this.shipped.get(name);
    if (!exp)
      throw new MkError("ENOENT", `no experiment ${JSON.stringify(name.slice(0, 60))} (one of ${[...this.shipped.keys()].join(", ")})`);
    if (this.running) throw new MkError("EBUSY", `the experiment ${this.running} is still running`);
    const client = this.client();
    if (!client) throw new MkError("ENOTREADY", "the dashboard is not registered with kernel-core yet");
    this.running = name;
    this.onEvent({ name, status: "running" });
    this.model.record({
      kind: "experiment",
      label: null,
      generation: null,
      cause: null,
      mttr_ms: null,
      text: `experiment ${name} started: ${exp.title}`,
    });
    void this.run(name, exp, client)
      .catch((e: Error) => client.sys.log.error({ err: e }, "experiment %s failed", name))
      .finally(() => (this.running = undefined));
  }

  private async run(name: string, exp: Experiment, client: RunningService): Promise<void> {
    try {
      const journal = await runExperiment(exp, { target: this.target(client), client });
      const r = journal.report;
      this.onEvent({ name, status: journal.status, summary: summaryRows(journal), report: r });
      this.model.record({
        kind: "experiment",
        label: null,
        generation: null,
        cause: journal.status,
        mttr_ms: r.recover_ms.p50,
        text: `experiment ${name} ${journal.status}: ${r.faults_injected} faults, ${r.recoveries} recoveries, ${r.ops_attempted} operations, ${r.ops_failed} failed`,
      });
    } catch (e) {
      this.onEvent({ name, status: "aborted", summary: [["error", (e as Error).message]] });
    }
  }

  /** The running system as seen from inside: the runner's hands are the dashboard's own kernel calls. */
  private target(client: RunningService): ChaosTarget {
    const kernel = () => this.model.state().kernel;
    return {
      table: this.table,
      booted: false,
      kernelReady: async () => kernel().up,
      kernelStartedAt: async () => {
        const k = kernel();
        return k.uptime_ms === null ? null : Date.now() - k.uptime_ms;
      },
      credential: () => {
        throw new MkError("ENOSYS", "the dashboard runs experiments with its own connection only");
      },
      signal: (label, signal) =>
        void sysKill(client.sys, label, signal === "SIGKILL" ? "KILL" : "STOP").catch((e: Error) =>
          client.sys.log.warn({ label, err: e.message }, "experiment's %s not sent", signal),
        ),
      // A kernel-core restart is a new boot; the emulator's restarts are not visible from here.
      incarnation: (part) => (part === "kernel" ? (kernel().boot ?? undefined) : "hardware"),
      alive: () => kernel().up,
      // The page has no hands on kernel-core's process (only kernel calls, which die with it).
      restartKernel: async () => {
        throw new MkError("ENOSYS", "an experiment from the page cannot restart kernel-core: run it with mkctl chaos run");
      },
    };
  }
}
