// unit (one process, no NATS), system (real nats-server, real processes), chaos (the
// chaos runner's campaigns on real processes), compose (Docker), browser (the dashboard
// in Debian's Chromium, driven by playwright-core, against a real system).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      // Tests shuffled within each file, every run: no unit test may lean on one that ran before it.
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          testTimeout: 20_000,
          sequence: { shuffle: { tests: true } },
        },
      },
      {
        test: {
          name: "system",
          include: ["tests/system/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Each file boots its own NATS and processes; two cores: one file at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "chaos",
          include: ["tests/chaos/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "compose",
          include: ["tests/compose/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "browser",
          include: ["tests/browser/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
