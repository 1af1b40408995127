// The workload panel: what the file-system workload is doing (rate, operations, failures,
// bytes it read back and verified) and a control to change its rate.

import { post } from "./api.ts";
import { byTestId, setText, within } from "./dom.ts";
import { bytes, dash } from "./format.ts";
import type { MessageArea } from "./message-area.ts";
import type { Workload } from "./types.ts";

/** Counts older than this (the server reads them every second) are shown as stale. */
const STALE_MS = 3000;

export class WorkloadPanel {
  private readonly root = byTestId("workload");
  private readonly slider = within<HTMLInputElement>(this.root, "input[type=range]");
  private readonly number = within<HTMLInputElement>(this.root, "input[type=number]");
  private readonly apply = within<HTMLButtonElement>(this.root, "button");
  private touched = false;

  private readonly token: () => string | null;
  private readonly messages: MessageArea;

  constructor(token: () => string | null, messages: MessageArea) {
    this.token = token;
    this.messages = messages;
    this.slider.addEventListener("input", () => {
      this.number.value = this.slider.value;
      this.touched = true;
    });
    this.number.addEventListener("input", () => {
      this.slider.value = this.number.value;
      this.touched = true;
    });
    this.apply.addEventListener("click", () => void this.submit());
  }

  setMax(max: number): void {
    for (const i of [this.slider, this.number]) i.max = String(max);
  }

  /** now: the state's time (the server's clock, as `at` is). */
  update(w: Workload | null, now: number): void {
    const field = (name: string): HTMLElement => within(this.root, `[data-field="${name}"]`);
    // Counts not read again for a while (kernel-core or the workload away) are stale: say since when.
    const stale = w !== null && now - w.at > STALE_MS;
    const staleLine = field("stale");
    staleLine.hidden = !stale;
    setText(
      staleLine,
      stale ? `stale: these counts were read at ${new Date(w.at).toLocaleTimeString()}, ${Math.round((now - w.at) / 1000)} s ago` : "",
    );
    this.root.classList.toggle("is-stale", stale);
    setText(field("rate"), w === null ? "not running" : `${w.rate}/s`);
    setText(field("ops"), w === null ? "–" : String(w.ops));
    setText(field("failed"), w === null ? "–" : String(w.failed));
    field("failed").classList.toggle("hot", w !== null && w.failed > 0);
    setText(field("bytes_verified"), w === null ? "–" : bytes(w.bytes_verified));
    setText(field("last_error"), dash(w?.last_error));
    // Follow the server's rate until the user starts editing, so the control shows the truth.
    if (!this.touched) {
      const r = String(w?.rate ?? 0);
      this.slider.value = r;
      this.number.value = r;
    }
  }

  private async submit(): Promise<void> {
    const rate = Number(this.number.value);
    if (!Number.isFinite(rate) || rate < 0) {
      this.messages.error(`workload: ${this.number.value} is not a rate`);
      return;
    }
    this.messages.pending(`workload rate ${rate}`);
    const o = await post("api/workload", this.token(), { rate });
    if (o.ok) this.touched = false;
    this.messages.outcome(`workload rate ${rate}`, o, (b) =>
      rate === 0 ? "stopped" : `now ${typeof b.rate === "number" ? b.rate : rate}/s`,
    );
  }
}
