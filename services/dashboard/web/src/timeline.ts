// The timeline: what happened, newest first. It keeps at most 500 entries in the DOM (the
// server's history is at most 500 too), so a page open for days holds a constant number
// of nodes. A reconnect's history replaces the list wholesale: no duplicates.

import { el } from "./dom.ts";
import { clock, duration } from "./format.ts";
import type { TimelineEntry } from "./types.ts";

const TIMELINE_MAX = 500;

function entry(e: TimelineEntry): HTMLLIElement {
  const li = el(
    "li",
    {
      class: `tl tl-${e.kind}`,
      "data-kind": e.kind,
      "data-label": e.label ?? "",
      "data-generation": e.generation === null ? "" : String(e.generation),
    },
    el("time", { datetime: new Date(e.t).toISOString() }, clock(e.t)),
    el("span", { class: "tl-kind" }, e.kind),
    el("span", { class: "tl-label mono" }, e.label ?? ""),
    el("span", { class: "tl-text" }, e.text),
  );
  if (e.mttr_ms !== null) li.append(el("span", { class: "tl-mttr" }, `healed in ${duration(e.mttr_ms)}`));
  return li;
}

export class Timeline {
  private readonly list: HTMLOListElement;

  constructor(list: HTMLOListElement) {
    this.list = list;
  }

  /** History arrives oldest first; the list shows newest first. */
  replace(history: TimelineEntry[]): void {
    const recent = history.slice(-TIMELINE_MAX).reverse();
    this.list.replaceChildren(...recent.map(entry));
  }

  add(e: TimelineEntry): void {
    this.list.prepend(entry(e));
    while (this.list.childElementCount > TIMELINE_MAX) this.list.lastElementChild?.remove();
  }
}
