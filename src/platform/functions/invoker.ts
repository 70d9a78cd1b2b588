import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { CloudEvent, HTTP } from 'cloudevents';
import { SpanKind } from '@opentelemetry/api';
import type { Logger } from '../observability/logger.js';
import { runWithExtractedContext } from '../observability/tracing.js';
import type { EpuCloudEvent, EpuFunction } from './cloud-event.js';

export type FunctionName = 'auditLog' | 'photoUploaded';
export const FUNCTION_NAMES: FunctionName[] = ['auditLog', 'photoUploaded'];

export interface FunctionsInvoker {
  readonly mode: 'in-process' | 'http';
  invoke(name: FunctionName, event: EpuCloudEvent): Promise<void>;
}

export class FunctionCallError extends Error {
  constructor(
    name: string,
    readonly status: number,
    body: string,
  ) {
    super(`function ${name} answered ${status}: ${body.slice(0, 200)}`);
    this.name = 'FunctionCallError';
  }
}

/**
 * FUNCTIONS_URL unset: the handlers run in this process. Set: each call is an
 * HTTP POST of a binary-mode CloudEvent to `<FUNCTIONS_URL>/<name>` with a
 * bearer token; any non-2xx answer throws, so the delivering job retries.
 */
export function createFunctionsInvoker(options: {
  functionsUrl: string | undefined;
  token: string;
  handlers: () => Record<FunctionName, EpuFunction<any>>;
  logger: Logger;
  timeoutMs?: number;
}): FunctionsInvoker {
  if (!options.functionsUrl) {
    return {
      mode: 'in-process',
      async invoke(name, event) {
        await runWithExtractedContext(
          event as unknown as Record<string, unknown>,
          `function ${name}`,
          () => options.handlers()[name](new CloudEvent(event as never, false) as never),
          { kind: SpanKind.SERVER },
        );
      },
    };
  }
  const base = new URL(options.functionsUrl);
  // node:http with kept-alive connections rather than fetch: one delivery per
  // audited action makes this the worker's hottest call, and fetch cost about
  // four times its CPU (decision 0029).
  const transport = base.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    mode: 'http',
    invoke(name, event) {
      const message = HTTP.binary(new CloudEvent(event as never, false));
      const body = Buffer.from(message.body as string);
      return new Promise<void>((resolve, reject) => {
        const request = transport.request(
          new URL(`${base.pathname.replace(/\/$/, '')}/${name}`, base),
          {
            method: 'POST',
            agent,
            timeout: timeoutMs,
            headers: {
              ...(message.headers as Record<string, string>),
              authorization: `Bearer ${options.token}`,
              'content-length': body.length,
            },
          },
          (response) => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              response.resume();
              response.on('end', resolve);
              response.on('error', reject);
              return;
            }
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text = (text + chunk).slice(0, 1000)));
            response.on('end', () => reject(new FunctionCallError(name, status, text)));
            response.on('error', reject);
          },
        );
        request.on('timeout', () => request.destroy(new Error(`function ${name} did not answer within ${timeoutMs} ms`)));
        request.on('error', reject);
        request.end(body);
      });
    },
  };
}

/** FUNCTIONS_TOKEN, or one derived from SECRET_KEY so that a single-secret setup needs nothing more. */
export function functionsToken(configured: string | undefined, derive: () => string): string {
  return configured ?? derive();
}

/** The credentials of an `Authorization: Bearer <credentials>` header (RFC 6750; the scheme in any case), else undefined. */
export function bearerCredentials(authorization: string | undefined): string | undefined {
  return /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
}

/** Whether the header is `Bearer <expected>`: a token without the scheme, or under another one, is no token. */
export function tokenMatches(expected: string, authorization: string | undefined): boolean {
  const given = Buffer.from(bearerCredentials(authorization) ?? '');
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}
