// A TLS-terminating reverse proxy for tests, as a load balancer stands in front
// of EPU: https on a loopback port with a certificate made for the run (a
// self-signed one from openssl, trusted by passing its file as the CA), plain
// http to the upstream. Its faults are set per test: headers it drops, and
// paths it sends to another upstream.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { findTool } from './tools.mjs';

export interface TlsProxy {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The certificate, to pass as a CA (`--ca`). */
  caFile: string;
  /** Where requests go: http://127.0.0.1:PORT of the app. */
  upstream: string;
  /** Response headers removed on the way out (lower-case). */
  strip: Set<string>;
  /** Paths (exactly) answered by another upstream instead. */
  routes: Map<string, string>;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, valid for 30 days (readiness warns under 14), in a directory of its own. */
export function selfSignedCertificate(): { dir: string; keyFile: string; certFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const openssl = findTool('openssl');
  if (!openssl) throw new Error('openssl is not on PATH (apt-get install openssl) and OPENSSL is not set');
  const result = spawnSync(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl could not make a certificate: ${result.error?.message ?? result.stderr}`);
  return { dir, keyFile, certFile };
}

export async function startTlsProxy(): Promise<TlsProxy> {
  const certificate = selfSignedCertificate();
  const proxy: Omit<TlsProxy, 'url' | 'close'> = {
    caFile: certificate.certFile,
    upstream: '',
    strip: new Set(),
    routes: new Map(),
  };
  const server = https.createServer(
    { key: fs.readFileSync(certificate.keyFile), cert: fs.readFileSync(certificate.certFile) },
    (request, response) => {
      const upstream = new URL(proxy.routes.get(request.url ?? '') ?? proxy.upstream);
      const forwarded = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, 'x-forwarded-proto': 'https' },
        },
        (answer) => {
          const headers = { ...answer.headers };
          for (const name of proxy.strip) delete headers[name];
          response.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', () => {
        response.writeHead(502).end();
      });
      request.pipe(forwarded);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return Object.assign(proxy, {
    url: `https://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(certificate.dir, { recursive: true, force: true });
    },
  });
}
