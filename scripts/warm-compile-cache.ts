// Fills Node's compile cache (NODE_COMPILE_CACHE) with every part's modules, without
// starting any part: each part's placement-neutral module (index.ts) and what its main.ts
// loads besides. The image runs it at build time, so a container's first start reads
// compiled code instead of compiling it (npm run bench:boot -- --compose N measures it).
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const MODULES = [
  "kernel-core/src/index.ts",
  "hardware-emulator/src/index.ts",
  "services/libsys/src/index.ts",
  "services/drivers/ata/src/index.ts",
  "services/drivers/tty/src/index.ts",
  "services/fs/mfs/src/index.ts",
  "services/fs/vfs/src/index.ts",
  "services/fs/procfs/src/index.ts",
  "services/sched/src/index.ts",
  "services/shell/src/index.ts",
  "services/workload/src/index.ts",
  "services/rs/src/index.ts",
  "services/dashboard/src/index.ts",
  "services/boot/src/index.ts",
  "services/chaos/src/index.ts",
];

if (!process.env.NODE_COMPILE_CACHE) throw new Error("warm-compile-cache: NODE_COMPILE_CACHE is not set: nothing to fill");
let loaded = 0;
for (const m of MODULES) {
  try {
    readFileSync(join(ROOT, m));
  } catch {
    continue; // a module this checkout does not have
  }
  await import(join(ROOT, m));
  loaded++;
}
const { flushCompileCache } = await import("node:module");
flushCompileCache?.();
console.log(`warm-compile-cache: ${loaded} parts' modules compiled into ${process.env.NODE_COMPILE_CACHE}`);
process.exit(0);
