// A table for a terminal: columns padded to their widest cell, two spaces apart, no
// trailing blanks. What mkctl, the chaos engine and the benchmarks print their tables with.

export function textTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  return textTableLines(head, body).join("\n");
}

export function textTableLines(head: readonly string[], body: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  return [head, ...body].map((cols) =>
    cols
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd(),
  );
}
