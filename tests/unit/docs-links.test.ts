// The README and docs/ stay true: every relative link reaches a file (and a heading, when
// it names one), every `npm run X` they tell a reader to type exists, and the README stays
// a front door whose two commands are on its first screen.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function markdownFiles(): string[] {
  const files = [
    "README.md",
    ...readdirSync(join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  for (const group of ["services", "services/drivers", "services/fs"]) {
    for (const d of readdirSync(join(ROOT, group), { withFileTypes: true })) {
      const readme = `${group}/${d.name}/README.md`;
      if (d.isDirectory() && existsSync(join(ROOT, readme))) files.push(readme);
    }
  }
  return files;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

/** Links outside code: [text](target), targets without a scheme. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
}

describe("the documentation", () => {
  const files = markdownFiles();
  const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>);

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const f of files) {
      for (const target of links(readFileSync(join(ROOT, f), "utf8"))) {
        const [path, anchor] = target.split("#");
        const file = path === "" ? join(ROOT, f) : resolve(dirname(join(ROOT, f)), decodeURIComponent(path));
        if (!existsSync(file)) broken.push(`${f}: ${target} (no file ${relative(ROOT, file)})`);
        else if (anchor && file.endsWith(".md") && !anchors(file).has(anchor)) broken.push(`${f}: ${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
    expect(files.length).toBeGreaterThan(10);
  });

  it("names only npm scripts that package.json has", () => {
    const missing: string[] = [];
    for (const f of files) {
      for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/npm run (?:-s )?([a-z][a-z0-9:_-]*)/g)) {
        if (!scripts.includes(m[1])) missing.push(`${f}: npm run ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("keeps the README a front door: short, the two commands on the first screen", () => {
    const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
    expect(lines.length).toBeLessThanOrEqual(160);
    const firstScreen = lines.slice(0, 25).join("\n");
    expect(firstScreen).toContain("npm ci && npm run demo");
    expect(firstScreen).toContain("npm ci && npm test");
  });
});
