# syntax=docker/dockerfile:1.7
# One image for every EPU process type; the command picks the role:
#   docker run IMAGE web | worker | functions | migrate | backup | ...
# or, overriding the entrypoint: command ["epu"] with args ["web"], or ["epu", "web"].
# scripts/build-image-dir.sh reproduces these steps without a Docker engine and
# deploy/image/image.int.test.ts runs the result, so keep the two in step.

# Node 24 is the current LTS line; bookworm matches the Debian the project tests on.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Sources come in before `npm ci` because the root `prepare` script builds them.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY public ./public
RUN --mount=type=cache,target=/root/.npm npm ci
RUN npm run build
RUN npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.0.0-dev
ARG GIT_SHA=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="epu" \
      org.opencontainers.image.description="EPU event and photo-sharing platform: web, worker, functions and operations commands" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="UNLICENSED"
ENV APP_ENV=production \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_PORT=9464 \
    FUNCTIONS_PORT=8081 \
    GIT_SHA=${GIT_SHA} \
    EPU_DATA_DIR=/tmp/epu
WORKDIR /app
# The node image's unprivileged user (uid 1000); files stay root-owned and read-only to it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/public ./public
# `epu` on PATH as well, so a platform that overrides the entrypoint can run
# `epu web` (infra/ does: Cloud Run `commands`, ECS `entryPoint`) and so can an operator's shell.
RUN ln -sf /app/bin/epu.js /usr/local/bin/epu && chmod 0755 /app/bin/epu.js
USER node
EXPOSE 3000 8081 9464
# /livez, not /healthz: a container whose database is briefly away is alive and must not be restarted for it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/epu.js"]
CMD ["web"]
