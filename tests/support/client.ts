// A small HTTP client with a cookie jar, like curl -c/-b: what an API user has.
import http from 'node:http';

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class Client {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request<T = any>(
    method: string,
    path: string,
    options: { json?: unknown; body?: BodyInit | Buffer; headers?: Record<string, string>; form?: Record<string, string> } = {},
  ): Promise<Response<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.accept = 'text/html';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body: body as BodyInit | undefined, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = cookie.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      const expired = attributes.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    const text = await response.text();
    let parsed: unknown = text;
    if (response.headers.get('content-type')?.includes('application/json') && text) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, { headers });
  }
  post<T = any>(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, { json, headers });
  }
  patch<T = any>(path: string, json?: unknown) {
    return this.request<T>('PATCH', path, { json });
  }
  delete<T = any>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

let counter = 0;
/** A signed-up user with a session; each call makes a distinct account. */
export async function signUp(baseUrl: string, overrides: { email?: string; name?: string; password?: string } = {}) {
  const client = new Client(baseUrl);
  const email = overrides.email ?? `user${Date.now()}-${process.pid}-${++counter}@example.test`;
  const password = overrides.password ?? 'correct horse battery';
  const response = await client.post('/api/v1/auth/signup', { email, name: overrides.name ?? `User ${counter}`, password });
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${response.text}`);
  return { client, user: response.body.user as { id: string; email: string; name: string; role: string }, email, password };
}

export function futureIso(days = 7): string {
  return new Date(Date.now() + days * 86_400_000).toISOString();
}

/** A POST whose body arrives in two halves: in flight from the first byte until `finish()` sends the second half. */
export function slowJsonPost(port: number, path: string, body: string, cookie: string) {
  const request = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), cookie },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    request.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  request.write(body.slice(0, half));
  return { finish: () => request.end(body.slice(half)), response };
}
