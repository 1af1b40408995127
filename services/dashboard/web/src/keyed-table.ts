// A table body whose rows are keyed (data-label) and whose cells are named (data-col):
// each second's update rewrites only the cells that changed, so a test or a user selecting
// text in a row is not fighting a full redraw, and the DOM stays as large as the data.

import { el, setAttr, setText } from "./dom.ts";

export interface Cell {
  text: string;
  /** A class for the cell (state colour, numeric alignment). */
  cls?: string;
  /** Extra content after the text, e.g. a bar; rebuilt only when its key changes. */
  extra?: { key: string; make(): Node };
}

export class KeyedTable {
  private readonly rows = new Map<string, HTMLTableRowElement>();

  private readonly tbody: HTMLTableSectionElement;
  private readonly cols: readonly string[];

  constructor(tbody: HTMLTableSectionElement, cols: readonly string[]) {
    this.tbody = tbody;
    this.cols = cols;
  }

  update(items: { key: string; cells: Record<string, Cell> }[]): void {
    const seen = new Set<string>();
    let prev: HTMLTableRowElement | null = null;
    for (const item of items) {
      seen.add(item.key);
      let tr = this.rows.get(item.key);
      if (tr === undefined) {
        tr = el("tr", { "data-label": item.key });
        for (const c of this.cols) tr.append(el("td", { "data-col": c }));
        this.rows.set(item.key, tr);
      }
      for (let i = 0; i < this.cols.length; i++) {
        const cell = item.cells[this.cols[i]];
        const td = tr.cells[i];
        if (cell === undefined) continue;
        setAttr(td, "class", cell.cls ?? "");
        if (cell.extra === undefined) setText(td, cell.text);
        else if (td.dataset.extra !== `${cell.text}|${cell.extra.key}`) {
          td.dataset.extra = `${cell.text}|${cell.extra.key}`;
          td.replaceChildren(cell.text, cell.extra.make());
        }
      }
      // Keep the server's order without re-inserting rows that are already in place.
      const want: ChildNode | null = prev === null ? this.tbody.firstChild : prev.nextSibling;
      if (want !== tr) this.tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [key, tr] of this.rows) {
      if (!seen.has(key)) {
        tr.remove();
        this.rows.delete(key);
      }
    }
  }
}
