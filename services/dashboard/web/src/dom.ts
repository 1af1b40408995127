// Small DOM helpers so panels build elements in one line and never inject HTML strings
// (labels and timeline text come from the system and are shown as text, not markup).

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.querySelector<T>(`[data-testid="${id}"]`);
  if (e === null) throw new Error(`index.html lacks data-testid="${id}"`);
  return e;
}

/** An element index.html must have inside `root`: missing, it is a bug in the page, not a runtime state. */
export function within<T extends HTMLElement = HTMLElement>(root: HTMLElement, selector: string): T {
  const e = root.querySelector<T>(selector);
  if (e === null) throw new Error(`index.html lacks ${selector} inside ${root.dataset.testid ?? root.tagName}`);
  return e;
}

/** Sets text only when it changed: a table redrawn every second should not churn the DOM. */
export function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

export function setAttr(e: HTMLElement, name: string, value: string): void {
  if (e.getAttribute(name) !== value) e.setAttribute(name, value);
}

export function fillSelect(sel: HTMLSelectElement, options: { value: string; text: string }[]): void {
  const keep = sel.value;
  sel.replaceChildren(...options.map((o) => el("option", { value: o.value }, o.text)));
  if (options.some((o) => o.value === keep)) sel.value = keep;
}
