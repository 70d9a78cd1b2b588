// Debian's nginx as a child process in a temporary prefix: its own config
// (rendered from deploy/nginx/epu.conf.template), pid file and temp dirs, in the
// foreground (`daemon off`), stopped by its own pid. Shared by
// tests/replicas/replicas.int.test.ts and `npm run bench` (scripts/bench/replicas.mjs).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findTool } from '../support/tools.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
export const templatePath = path.resolve(here, '..', '..', 'deploy', 'nginx', 'epu.conf.template');
export const nginxBinary = findTool('nginx');

/** Replaces every ${NAME} of the template; nginx's own $variables have no braces there. */
export function renderNginxConfig(values) {
  const template = fs.readFileSync(templatePath, 'utf8');
  const rendered = template.replace(/\$\{([A-Z_]+)\}/g, (whole, name) => {
    if (!(name in values)) throw new Error(`no value for ${whole} in ${templatePath}`);
    return String(values[name]);
  });
  return rendered;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nginx listening on 127.0.0.1:port in front of the given upstream ports.
 * options: { port, upstreams: number[], workerProcesses = 1, failTimeout = '2s', accessLog = true }
 */
export async function startNginx(options) {
  if (!nginxBinary) throw new Error('nginx is not on PATH (apt-get install nginx; Debian puts it in /usr/sbin) and NGINX is not set');
  const { port, upstreams, workerProcesses = 1, failTimeout = '2s', accessLog = true } = options;
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-nginx-'));
  // As root, nginx's workers run as an unprivileged user: they must reach the prefix.
  fs.chmodSync(prefix, 0o755);
  fs.mkdirSync(path.join(prefix, 'tmp'), { mode: 0o755 });
  fs.mkdirSync(path.join(prefix, 'logs'), { mode: 0o755 });
  const config = renderNginxConfig({
    WORKER_PROCESSES: workerProcesses,
    ERROR_LOG: path.join(prefix, 'logs', 'error.log'),
    ACCESS_LOG: accessLog ? `${path.join(prefix, 'logs', 'access.log')} epu` : 'off',
    LISTEN: `127.0.0.1:${port}`,
    FAIL_TIMEOUT: failTimeout,
    UPSTREAM_SERVERS: upstreams.map((p) => `        server 127.0.0.1:${p} max_fails=1 fail_timeout=${failTimeout};`).join('\n'),
  });
  const configFile = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(configFile, config);
  const args = ['-p', prefix + '/', '-c', configFile, '-e', path.join(prefix, 'logs', 'error.log')];
  const check = spawnSync(nginxBinary, [...args, '-t', '-q'], { encoding: 'utf8' });
  if (check.status !== 0) {
    fs.rmSync(prefix, { recursive: true, force: true });
    throw new Error(`nginx -t rejected ${configFile}:\n${check.stderr}`);
  }

  const child = spawn(nginxBinary, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = readIfExists(path.join(prefix, 'logs', 'error.log'));
      fs.rmSync(prefix, { recursive: true, force: true });
      throw new Error(`nginx did not start on ${port}:\n${output}\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prefix,
    configFile,
    pid: child.pid,
    accessLog: () => readIfExists(path.join(prefix, 'logs', 'access.log')),
    errorLog: () => readIfExists(path.join(prefix, 'logs', 'error.log')) + output,
    /** SIGQUIT: graceful stop of the master we started (and so its workers), then the prefix goes. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
