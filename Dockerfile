# syntax=docker/dockerfile:1
# The chat backend on Node 24 LTS: build with the dev dependencies, run with production ones only, as `node`.
#   docker build -t chat-backend .
#   docker run -p 3000:3000 -e JWT_SECRET=… -e DATABASE_URL=postgres://… chat-backend
# Without DATABASE_URL the container would run the embedded PostgreSQL under /app/data (mount a volume there);
# docker-compose.yml runs it against a real PostgreSQL instead.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript with SWC (nest build; the swagger plugin's output is in src/metadata.ts) into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
# No install scripts: the `node` devDependency's would fetch a second Node binary, and the image already runs
# Node 24; dropping its link makes npm scripts use the image's node. The lockfile records every platform's optional
# packages, so `npm ci` installs exactly what it lists on x64 and arm64 alike.
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- runtime: production dependencies and the compiled app only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data \
    SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: no compiler, no jest, no second Node binary (the `node` devDependency).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config.yaml ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# Readiness, not liveness: a container whose database (or Redis) is unreachable reports unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
