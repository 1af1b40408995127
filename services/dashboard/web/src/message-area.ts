// The chaos panel's message area: one line saying what the last request did, in red when
// the server refused it, so a click never goes unanswered.

import { describeFailure, type Outcome } from "./api.ts";
import { clock } from "./format.ts";

export class MessageArea {
  private readonly box: HTMLElement;

  constructor(box: HTMLElement) {
    this.box = box;
  }

  pending(what: string): void {
    this.show(`${what}…`, "pending");
  }

  outcome(what: string, o: Outcome, success: (body: Record<string, unknown>) => string): void {
    if (o.ok) this.show(`${what}: ${success(o.body)}`, "ok");
    else this.show(`${what}: ${describeFailure(o)}`, "error");
  }

  error(text: string): void {
    this.show(text, "error");
  }

  /** A line that needs no request: news the server sent (an experiment that ended). */
  say(text: string, ok: boolean): void {
    this.show(text, ok ? "ok" : "error");
  }

  private show(text: string, kind: "ok" | "error" | "pending"): void {
    this.box.textContent = `${clock(Date.now())}  ${text}`;
    this.box.dataset.status = kind;
  }
}
