// A bare HTTP/1.1 client over a TCP socket: it sends exactly the bytes it is
// given (raw bytes in the request target, header values fetch would refuse,
// a body cut short), which is what a hostile client does.
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target as bytes, one char per byte (latin1). */
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Send only this many bytes of the body, then close the sending side. */
  cutBodyAt?: number;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", " (set-cookie kept apart). */
  headers: Record<string, string>;
  setCookies: string[];
  body: Buffer;
}

export type RawOutcome = { response: RawResponse } | { noAnswer: string };

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export function parseResponse(data: Buffer): RawResponse | null {
  // Interim answers (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1'))) {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) return null;
    data = data.subarray(end + 4);
  }
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!status) return null;
  const headers: Record<string, string> = {};
  const setCookies: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'set-cookie') setCookies.push(value);
    else headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = data.subarray(headEnd + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, setCookies, body };
}

/** One request on a connection of its own; the server is asked to close it after answering. */
export function sendRaw(port: number, request: RawRequest, timeoutMs = 30_000): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ noAnswer: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer is fine; no answer is reported below
    socket.on('close', () => {
      const response = parseResponse(Buffer.concat(chunks));
      finish(response ? { response } : { noAnswer: 'connection closed without an answer' });
    });
    socket.on('connect', () => {
      const body = request.body ?? Buffer.alloc(0);
      const headers =
        request.headers.some(([name]) => name.toLowerCase() === 'content-length') || !request.body
          ? request.headers
          : [...request.headers, ['content-length', String(body.length)] as [string, string]];
      const head = [
        `${request.method} ${request.target} HTTP/1.1`,
        `host: 127.0.0.1:${port}`,
        'connection: close',
        ...headers.map(([n, v]) => `${n}: ${v}`),
      ];
      socket.write(Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'));
      if (request.cutBodyAt !== undefined) {
        socket.end(body.subarray(0, request.cutBodyAt));
      } else {
        socket.write(body);
      }
    });
  });
}
