# One image for every mkos Node service; each compose service picks its `command:`.
# NODE_IMAGE is a build argument so air-gapped CI can pass a locally built stand-in.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Dependencies in their own layer, before the sources: it stays cached across edits.
COPY package.json package-lock.json ./
COPY services/mkctl/bin/package.json services/mkctl/bin/package.json
RUN npm ci --omit=dev --no-audit --no-fund

# The dashboard's page, built by Vite with the development dependencies; only the
# built files reach the final image (they need nothing from node_modules to run).
FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json ./
COPY services/mkctl/bin/package.json services/mkctl/bin/package.json
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY services/dashboard/web services/dashboard/web
RUN node_modules/.bin/vite build --config services/dashboard/web/vite.config.ts --logLevel warn

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production MK_LOG_LEVEL=info
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=web /app/services/dashboard/web/dist ./services/dashboard/web/dist
# Node's compile cache, filled here: every part's modules compiled once at build time and
# read at each container start (npm run bench:boot -- --compose N). Readable by every
# service's UID; not writable at run time, which Node accepts (it only reads it then).
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node scripts/warm-compile-cache.ts && chmod -R a+rX /app/.node-compile-cache
# Not root. Compose gives each service its own UID so it can read only its own credential.
USER 1000:1000
CMD ["node", "kernel-core/src/main.ts"]
