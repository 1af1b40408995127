// The chaos panel: inject a fault into an endpoint, a fault into the emulated hardware, or
// run a whole experiment, and see the server's answer and the experiment's result.

import { post } from "./api.ts";
import { byTestId, el, fillSelect } from "./dom.ts";
import type { MessageArea } from "./message-area.ts";
import type { ExperimentEvent, Meta } from "./types.ts";

export class ChaosPanel {
  private readonly target = byTestId<HTMLSelectElement>("chaos-target");
  private readonly fault = byTestId<HTMLSelectElement>("chaos-fault");
  private readonly ms = byTestId<HTMLInputElement>("chaos-ms");
  private readonly count = byTestId<HTMLInputElement>("chaos-count");
  private readonly hwFault = byTestId<HTMLSelectElement>("hw-fault");
  private readonly experiment = byTestId<HTMLSelectElement>("experiment-select");
  private readonly result = byTestId("experiment-result");

  private readonly token: () => string | null;
  private readonly messages: MessageArea;

  constructor(token: () => string | null, messages: MessageArea) {
    this.token = token;
    this.messages = messages;
    byTestId("chaos-submit").addEventListener("click", () => void this.chaos());
    byTestId("hw-submit").addEventListener("click", () => void this.hw());
    byTestId("experiment-run").addEventListener("click", () => void this.run());
  }

  setMeta(m: Meta): void {
    fillSelect(
      this.target,
      m.labels.map((l) => ({ value: l, text: l })),
    );
    fillSelect(
      this.fault,
      m.faults.map((f) => ({ value: f, text: f })),
    );
    fillSelect(
      this.hwFault,
      m.hw_faults.map((f) => ({ value: f, text: f })),
    );
    fillSelect(
      this.experiment,
      m.experiments.map((e) => ({ value: e.name, text: e.title === e.name ? e.name : `${e.name} — ${e.title}` })),
    );
  }

  /** An optional whole-number field: absent when empty, an error string when not a number. */
  private optional(input: HTMLInputElement, what: string): number | undefined | string {
    const raw = input.value.trim();
    if (raw === "") return undefined;
    const n = Number(raw);
    return Number.isInteger(n) && n > 0 ? n : `${what} must be a positive whole number`;
  }

  private async chaos(): Promise<void> {
    const ms = this.optional(this.ms, "ms");
    const count = this.optional(this.count, "count");
    if (typeof ms === "string" || typeof count === "string") {
      this.messages.error(typeof ms === "string" ? ms : String(count));
      return;
    }
    const body: Record<string, string | number> = { target: this.target.value, fault: this.fault.value };
    if (ms !== undefined) body.ms = ms;
    if (count !== undefined) body.count = count;
    const what = `${body.fault} ${body.target}`;
    this.messages.pending(what);
    const o = await post("api/chaos", this.token(), body);
    this.messages.outcome(what, o, (b) => (typeof b.note === "string" ? b.note : "done"));
  }

  private async hw(): Promise<void> {
    const what = `hardware ${this.hwFault.value}`;
    this.messages.pending(what);
    const o = await post("api/hwfault", this.token(), { fault: this.hwFault.value });
    this.messages.outcome(what, o, () => "injected");
  }

  private async run(): Promise<void> {
    const name = this.experiment.value;
    if (name === "") {
      this.messages.error("no experiment to run");
      return;
    }
    const what = `experiment ${name}`;
    this.messages.pending(what);
    const o = await post(`api/experiments/${encodeURIComponent(name)}`, this.token());
    this.messages.outcome(what, o, () => "started; its result appears below when it ends");
  }

  /** The `experiment` event: its status always, its summary rows once it has them. */
  showExperiment(e: ExperimentEvent): void {
    const rows = e.summary.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, v)));
    this.result.replaceChildren(
      el("caption", {}, el("span", { class: "mono" }, e.name), " ", el("span", { class: `exp-status exp-${e.status}` }, e.status)),
      el("tbody", {}, ...rows),
    );
    this.result.dataset.status = e.status;
    this.result.dataset.name = e.name;
    // The status line said "started": once the experiment ends it says how, not that it started.
    if (e.status !== "running") this.messages.say(`experiment ${e.name} ${e.status}; its report is below`, e.status === "completed");
  }
}
