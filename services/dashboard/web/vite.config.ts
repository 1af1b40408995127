// Vite build of the dashboard page: run from the repository root with
// `node_modules/.bin/vite build --config services/dashboard/web/vite.config.ts`;
// the dashboard serves dist/ as static files, so every URL in the page is relative.

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root,
  base: "./",
  // The page must work offline: nothing is fetched from a CDN, no public dir is copied.
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Cytoscape alone is ~450 kB minified; one page, loaded once, so one bundle is fine.
    chunkSizeWarningLimit: 1500,
  },
});
