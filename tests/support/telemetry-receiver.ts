import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface Received {
  path: string;
  contentType: string;
  body: string;
}

export interface TelemetryReceiver {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT: spans arrive at `<endpoint>/v1/traces`. */
  readonly otlpEndpoint: string;
  /** For SENTRY_DSN: envelopes arrive at `/api/1/envelope/`. */
  readonly sentryDsn: string;
  readonly received: Received[];
  /** The service names of the OTLP/HTTP (JSON) trace exports received so far. */
  traceServices(): string[];
  /** The Sentry error events received so far: each envelope's event item. */
  sentryEvents(): { exception?: { values?: { type?: string; value?: string }[] }; tags?: Record<string, string> }[];
  close(): Promise<void>;
}

/**
 * Stands in for an OpenTelemetry collector (OTLP/HTTP) and for Sentry on one
 * loopback port: it records what a process exports, so a test can see that
 * traces and error reports leave it.
 */
export async function startTelemetryReceiver(host = '127.0.0.1', port = 0): Promise<TelemetryReceiver> {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      received.push({ path: request.url ?? '', contentType: request.headers['content-type'] ?? '', body: body.toString('utf8') });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    otlpEndpoint: base,
    sentryDsn: `http://0123456789abcdef0123456789abcdef@${base.slice('http://'.length)}/1`,
    received,
    traceServices() {
      return received
        .filter((r) => r.path === '/v1/traces')
        .flatMap(
          (r) =>
            (JSON.parse(r.body) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[] })
              .resourceSpans,
        )
        .map((spans) => spans.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '');
    },
    sentryEvents() {
      return received
        .filter((r) => r.path.startsWith('/api/1/envelope'))
        .flatMap((r) => {
          // An envelope: a header line, then an item header line and its payload line, item after item.
          const lines = r.body.split('\n').filter(Boolean);
          const events = [];
          for (let i = 1; i + 1 < lines.length; i += 2) {
            if ((JSON.parse(lines[i]!) as { type?: string }).type === 'event') events.push(JSON.parse(lines[i + 1]!));
          }
          return events;
        });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
