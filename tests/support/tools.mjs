// The system tools some test tiers need, and what a machine without them does.
// `npm test` must pass on a laptop with Node and npm only: a tier whose tool is
// missing is skipped with one line naming the tool and its install command.
// CI sets EPU_TEST_REQUIRE_ALL=1 (in .ci/run), which turns every such skip into
// a failure, so CI always runs everything. Used by scripts/test.mjs (the lines)
// and by the test files (the skip, or the failure).
import fs from 'node:fs';
import path from 'node:path';

/** Each tool: how to install it on Debian/Ubuntu, and the variable that points at it where it is not on PATH. */
export const TOOLS = {
  kubectl: { install: 'apt-get install kubernetes-client', variable: 'KUBECTL' },
  promtool: { install: 'apt-get install prometheus', variable: 'PROMTOOL' },
  nginx: { install: 'apt-get install nginx (Debian puts it in /usr/sbin: have that on PATH)', variable: 'NGINX' },
  'redis-server': { install: 'apt-get install redis-server', variable: 'REDIS_SERVER' },
  chromium: { install: 'apt-get install chromium', variable: 'CHROMIUM_PATH', names: ['chromium', 'chromium-browser'] },
  openssl: { install: 'apt-get install openssl', variable: 'OPENSSL' },
  podman: {
    install:
      'apt-get install --no-install-recommends podman buildah runc slirp4netns uidmap debootstrap, which npm run test:image does itself',
    variable: 'PODMAN',
  },
};

/** What a tier that builds and runs containers needs besides its tools: rootful Podman mounts and builds images. */
const ROOT = 'root (rootful Podman: run the tests as root)';

/** The tiers that need system tools: the npm test step they run in, and the tests they hold. */
export const TIERS = {
  redis: {
    step: 'tests',
    tools: ['redis-server'],
    tests: 'Redis cache and REDIS_URL fault tests (src/platform/cache/redis-*.int.test.ts)',
  },
  replicas: { step: 'tests', tools: ['nginx', 'redis-server'], tests: 'replicas behind nginx (tests/replicas)' },
  tls: {
    step: 'tests',
    tools: ['openssl'],
    tests: 'epu readiness against a deployment behind TLS (src/entrypoints/ops/readiness.int.test.ts)',
  },
  kubernetes: { step: 'deploy', tools: ['kubectl'], tests: 'Kubernetes manifests (deploy/k8s)' },
  prometheus: { step: 'deploy', tools: ['promtool'], tests: 'alert and recording rules, Prometheus config (deploy/observability)' },
  browser: { step: 'e2e', tools: ['chromium'], tests: 'browser tests (tests/e2e)' },
  image: {
    step: 'image',
    tools: ['podman'],
    root: true,
    tests: 'the container image, built and run with Podman (npm run test:image, deploy/image)',
  },
};

/** CI's switch: every tier must run. */
export function requireAll() {
  return process.env.EPU_TEST_REQUIRE_ALL === '1';
}

function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The tool's path: its variable when set, else the first of its names on PATH; undefined when missing. */
export function findTool(name) {
  const tool = TOOLS[name];
  if (!tool) throw new Error(`unknown tool ${name}: add it to TOOLS in tests/support/tools.mjs`);
  const configured = process.env[tool.variable];
  if (configured) return executable(configured) ? configured : undefined;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of tool.names ?? [name]) {
    for (const dir of dirs) {
      const file = path.join(dir, candidate);
      if (executable(file)) return file;
    }
  }
  return undefined;
}

/** The tools of a tier that this machine lacks. */
export function missingTools(tierName) {
  const tier = TIERS[tierName];
  if (!tier) throw new Error(`unknown tier ${tierName}: add it to TIERS in tests/support/tools.mjs`);
  const missing = tier.tools.filter((name) => !findTool(name));
  if (tier.root && process.getuid?.() !== 0) missing.push(ROOT);
  return missing;
}

/** The one line that says why a tier does not run and how to make it run; undefined when it can run. */
export function skipLine(tierName) {
  const missing = missingTools(tierName);
  if (missing.length === 0) return undefined;
  const what = missing
    .map((name) => (name === ROOT ? ROOT : `${name} (${TOOLS[name].install}, or set ${TOOLS[name].variable})`))
    .join(' and ');
  return `skip ${tierName}: ${TIERS[tierName].tests} need ${what}`;
}

/**
 * For a test file: true when the tier can run. When it cannot, false (skip it),
 * or, with EPU_TEST_REQUIRE_ALL=1, an error that fails the file.
 */
export function tierCanRun(tierName) {
  const line = skipLine(tierName);
  if (!line) return true;
  if (requireAll()) throw new Error(`EPU_TEST_REQUIRE_ALL=1 and a tool is missing: ${line}`);
  // scripts/test.mjs prints the line once per tier; run directly, the file says it itself.
  if (!process.env.EPU_TEST_SKIPS_REPORTED) process.stderr.write(`${line}\n`);
  return false;
}
