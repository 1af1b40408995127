// unit (one process, no NATS), system (real nats-server, real processes), chaos (the
// chaos runner's campaigns on real processes), compose (Docker), browser (the dashboard
// in Debian's Chromium, driven by playwright-core, against a real system).
import { defineConfig } from "vitest/config";

// The system tests run in a shuffled order within each file, a new one every run: no test may
// lean on what one before it left (a generation, a restart count, a file). Vitest prints
// the run's seed ("Running tests with seed N"); MK_TEST_SEED=N repeats that order.
const seed = Number(process.env.MK_TEST_SEED) || undefined;

export default defineConfig({
  test: {
    ...(seed ? { sequence: { seed } } : {}),
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
          sequence: { shuffle: { tests: true } },
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
