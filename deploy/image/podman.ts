// Podman from the image tests: every call is asynchronous, because the test
// process also runs the proxy and the receivers the containers talk to.
import { spawn } from 'node:child_process';
import net from 'node:net';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `podman ARGS`; resolves with its exit code and output (never rejects on a non-zero exit). */
export function podman(args: string[], options: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like podman(), but throws with the output unless it exits 0; resolves with stdout. */
export async function podmanOk(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  const run = await podman(args, options);
  if (run.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`.slice(0, 6000));
  return run.stdout;
}

/**
 * A free loopback port. The containers share the host's network, so their
 * ports are the machine's: EPU_TEST_PORTS=FIRST-LAST keeps them in a range
 * (a shared machine hands each engineer one); otherwise the kernel picks.
 */
export async function freePort(): Promise<number> {
  const range = process.env.EPU_TEST_PORTS?.match(/^(\d+)-(\d+)$/);
  const candidates = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i) : [0];
  for (const candidate of candidates) {
    if (taken.has(candidate)) continue;
    const port = await new Promise<number | null>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen(candidate, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (port !== null) {
      if (range) taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port in EPU_TEST_PORTS=${process.env.EPU_TEST_PORTS}`);
}
const taken = new Set<number>();
