# syntax=docker/dockerfile:1
# One image for the services, built from the compiled code with production dependencies only.
# The first argument picks what runs (default: `custos start`, the three services in one process):
#   docker build -t custos .
#   docker run --rm -p 8080:8080 -e KAFKA_BROKERS=kafka:9092 \
#     -e SCHEMA_REGISTRY_URL=http://registry:8080/apis/ccompat/v7 -e CHECKPOINT_PRIVATE_KEY=… custos
#   docker run --rm -e … custos enforcer      # or sink, api: one service per container
#   docker run --rm -e … custos migrate       # any other custos command
# Kafka and the schema registry are never started inside the container: KAFKA_BROKERS and
# SCHEMA_REGISTRY_URL are required. Data written relative to the working directory (embedded chDB,
# reports, the demo's spool) goes to /var/lib/custos, a volume.

FROM node:24-slim AS build
ENV CI=true TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 PNPM_HOME=/pnpm PATH=/pnpm:$PATH
RUN corepack enable
WORKDIR /src
# The registry downloads depend on the lockfile (and the kafkajs patch) only: a layer of their own.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
COPY patches patches
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile && pnpm build
# Production dependencies only, in place: the services find their SQL migrations, the console's
# files and the example policy relative to their compiled code, so the workspace layout stays.
# A fresh install: `--prod` over the full one would leave the development packages in the store.
RUN rm -rf node_modules */*/node_modules schemas/node_modules test/node_modules \
  && pnpm install --offline --frozen-lockfile --prod \
  && rm -rf packages/*/src services/*/src schemas/src schemas/scripts test bench docs infra scripts/*.mjs \
    .changeset .ci .turbo dev Dockerfile biome.json vitest.config.ts tsconfig*.json */*/tsconfig*.json schemas/tsconfig*.json \
  && find packages services schemas -name '*.map' -path '*/dist/*' -delete

FROM node:24-slim
ENV NODE_ENV=production API_HOST=0.0.0.0
COPY --from=build /src /app
RUN mkdir -p /var/lib/custos && chown node:node /var/lib/custos
USER node
WORKDIR /var/lib/custos
VOLUME /var/lib/custos
EXPOSE 8080
ENTRYPOINT ["/app/scripts/container-entry.sh"]
CMD ["start"]
