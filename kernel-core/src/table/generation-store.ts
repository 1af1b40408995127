// The endpoint table's generation high-water marks, kept in a file of kernel-core's state
// directory (MK_STATE_DIR: the run directory in process mode, a volume of its own in
// compose), so that a restarted kernel-core numbers every label on from where the last one
// stopped and `label#g` never names two incarnations. Written whole at each new
// incarnation (a rename over the old file: a crash leaves the old marks or the new, never
// half a file); a missing or damaged file is said once and the marks start from zero.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LABEL_RE } from "#abi";
import type { Logger } from "#base/log.ts";
import { MAX_GENERATION, type GenerationStore } from "./endpoint-table.ts";

export function generationFile(dir: string, keep: (label: string) => boolean, log: Logger): GenerationStore {
  const file = join(dir, "generations.json");
  return {
    keep,
    persistent: true,
    load() {
      const marks = new Map<string, number>();
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        log.info({ file }, "no generation marks kept yet: every label starts from generation 1");
        return marks;
      }
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        v = undefined;
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        log.warn({ file }, "the generation marks are damaged: starting from generation 1 (clients notice the new boot)");
        return marks;
      }
      for (const [label, g] of Object.entries(v)) {
        if (LABEL_RE.test(label) && keep(label) && Number.isInteger(g) && (g as number) > 0 && (g as number) <= MAX_GENERATION)
          marks.set(label, g as number);
      }
      return marks;
    },
    save(marks) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, `${JSON.stringify(Object.fromEntries(marks))}\n`, { mode: 0o600 });
        renameSync(tmp, file);
      } catch (e) {
        log.warn({ file, err: (e as Error).message }, "the generation marks could not be kept");
      }
    },
  };
}
