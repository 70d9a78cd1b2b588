#!/usr/bin/env bash
# Reproduces the Dockerfile's build without a Docker engine:
#   scripts/build-image-dir.sh OUT_DIR
# OUT_DIR/build is the build stage (npm ci, npm run build, npm prune --omit=dev);
# OUT_DIR/image is the runtime stage's /app, holding exactly what the final
# stage's COPY --from=build lines copy. Run the result as the image would:
#   cd OUT_DIR/image && APP_ENV=production ... node bin/epu.js web
# Keep the file lists below in step with the Dockerfile.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/build-image-dir.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
build="$out/build"
image="$out/image"
rm -rf "$build" "$image"
mkdir -p "$build" "$image"

step() { printf '==> %s\n' "$*" >&2; }

# The build stage's COPY lines, filtered like .dockerignore (no tests, no local state).
step "copying the build context into $build"
for file in package.json package-lock.json tsconfig.json tsconfig.build.json; do
  cp "$root/$file" "$build/$file"
done
for dir in bin src migrations public; do
  rsync -a --exclude='*.test.ts' --exclude='.env' --exclude='.env.*' "$root/$dir/" "$build/$dir/"
done

cd "$build"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export NODE_ENV=development
step "npm ci (runs the prepare build too)"
npm ci --progress=false >&2
step "npm run build"
npm run build >&2
step "npm prune --omit=dev"
npm prune --omit=dev --progress=false >&2

# The runtime stage's COPY --from=build lines.
step "assembling the runtime layout in $image"
for entry in package.json node_modules dist bin migrations public; do
  cp -a "$build/$entry" "$image/$entry"
done
# The runtime stage's RUN line: bin/epu.js executable. Its /usr/local/bin/epu
# symlink lies outside /app; deploy/image/image.int.test.ts makes one to run `epu <command>`.
chmod 0755 "$image/bin/epu.js"
echo "$image"
