// The OpenAPI document: valid OpenAPI 3.1 (checked by a real validator), complete
// (every API route documented, with its inputs, answers and error codes), and
// honest (a route answering what its schema does not list fails in tests).
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, errorResponses } from '../../platform/http/api-schema.js';
import { checkAnswersAgainstSchemas } from '../../platform/http/answer-check.js';
import { AppError } from '../../platform/http/errors.js';
import { registerApiDocument, registeredRoutes } from '../../platform/http/openapi.js';
import { createHttpServer } from '../../platform/http/server.js';
import { createLogger } from '../../platform/observability/logger.js';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { FIXED_HEADERS, HTTP_CSP } from '../../../tests/support/security-headers.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Operation = {
  operationId: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: Record<string, any> };

let t: TestApp;
let document: Document;

beforeAll(async () => {
  t = await startTestApp();
  const response = await new Client(t.url).get('/api/v1/openapi.json');
  expect(response.status).toBe(200);
  document = response.body as Document;
});
afterAll(() => t?.close());

const operations = () =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );

function errorCodes(operation: Operation, status: string): string[] {
  return (operation.responses[status]?.content?.['application/json']?.schema?.['x-error-codes'] as string[] | undefined) ?? [];
}

describe('GET /api/v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has schemas that compile as JSON Schema 2020-12, the dialect of OpenAPI 3.1', () => {
    const ajv = addFormats(new Ajv2020({ strict: false }));
    let compiled = 0;
    for (const { operation } of operations()) {
      const schemas = [
        ...Object.values(operation.responses).flatMap((response) => Object.values(response.content ?? {}).map((media) => media.schema)),
        ...((operation.parameters ?? []) as { schema?: object }[]).map((parameter) => parameter.schema!),
      ];
      for (const schema of schemas) {
        ajv.compile(schema);
        compiled++;
      }
    }
    expect(compiled).toBeGreaterThan(100);
  });

  it('documents every API route the app has, and only those', () => {
    const api = registeredRoutes(t.app).filter((route) => route.api);
    expect(api.length).toBeGreaterThan(30);
    expect(api.filter((route) => !route.documented).map((route) => `${route.method} ${route.url}`)).toEqual([]);
    const documented = operations().map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    const expected = api.map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual(expected.sort());
    // Pages, forms, media and assets are not part of it.
    expect(documented.filter((operation) => !/ \/(api\/v1\/|livez|healthz|meta)/.test(operation))).toEqual([]);
  });

  it('gives each operation an id, a summary, a tag, who may call it, a success answer and its error codes', () => {
    const ids = new Set<string>();
    for (const { path, method, operation } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(operation.operationId, where).toMatch(/^[a-z]+[A-Za-z]*$/);
      ids.add(operation.operationId);
      expect(operation.summary, where).toBeTruthy();
      expect(operation.tags?.length, where).toBe(1);
      expect(operation.security, where).toBeDefined();
      expect(
        Object.keys(operation.responses).some((status) => Number(status) < 400),
        where,
      ).toBe(true);
      // Every answer can fail; every unsafe one can be refused as cross-site, or for its body.
      expect(errorCodes(operation, '500'), where).toEqual(['internal_error']);
      if (method !== 'get') {
        expect(errorCodes(operation, '403'), where).toContain('cross_site_request');
        expect(errorCodes(operation, '415'), where).toEqual(['unsupported_type']);
        expect(errorCodes(operation, '400'), where).toContain('invalid_json');
      }
      const needsSession = operation.security!.length > 0 && operation.security!.every((r) => Object.keys(r).length > 0);
      expect(errorCodes(operation, '401').includes('not_signed_in'), where).toBe(needsSession);
      // Each path parameter is described.
      for (const name of path.match(/\{(\w+)\}/g) ?? [])
        expect(
          operation.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name),
          `${where} ${name}`,
        ).toBe(true);
    }
    expect(ids.size).toBe(operations().length);
  });

  it('describes the session cookie as a security scheme, required where a session is', () => {
    expect(document.components.securitySchemes.session).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'cookie', name: 'epu_session' }),
    );
    expect(document.paths['/api/v1/events']!.post!.security).toEqual(ACCESS.signedIn);
    expect(document.paths['/api/v1/events/{id}']!.get!.security).toEqual(ACCESS.anyoneOrSignedIn);
    expect(document.paths['/api/v1/auth/signup']!.post!.security).toEqual([]);
  });

  it('lists the bodies, parameters and codes of the contract', () => {
    const createEvent = document.paths['/api/v1/events']!.post!;
    expect(createEvent.requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { required: expect.arrayContaining(['title', 'startsAt', 'capacity', 'visibility']) } } },
    });
    expect(createEvent.responses['201']).toBeDefined();
    const book = document.paths['/api/v1/events/{id}/bookings']!.post!;
    expect(errorCodes(book, '409')).toContain('event_full');
    expect(errorCodes(book, '404')).toEqual(['not_found']);
    const upload = document.paths['/api/v1/events/{id}/photos']!.post!;
    expect(upload.requestBody).toMatchObject({ content: { 'multipart/form-data': { schema: { required: ['file'] } } } });
    expect(errorCodes(upload, '413')).toEqual(['too_large']);
    const list = document.paths['/api/v1/events']!.get!;
    expect(list.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['query:cursor', 'query:limit']);
    expect(errorCodes(list, '400').sort()).toEqual(['invalid_cursor', 'validation_failed']);
    const login = document.paths['/api/v1/auth/login']!.post!;
    expect(errorCodes(login, '429')).toEqual(['rate_limited']);
    expect((login.responses['429'] as { headers?: object }).headers).toHaveProperty('retry-after');
  });
});

describe('GET /api/docs', () => {
  it('shows every operation on a page of its own server, under the site CSP, without script or inline style', async () => {
    const member = await signUp(t.url);
    const response = await member.client.get('/api/docs', { accept: 'text/html' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(HTTP_CSP);
    for (const [name, value] of Object.entries(FIXED_HEADERS)) expect(response.headers.get(name), name).toBe(value);
    const page = response.text;
    expect(page).not.toMatch(/<script(?![^>]*\bsrc="\/assets\/)/);
    expect(page).not.toMatch(/\sstyle=/);
    expect(page).not.toMatch(/<style/);
    expect(page).toContain('href="/api/v1/openapi.json"');
    for (const { path, method } of operations())
      expect(page, `${method} ${path}`).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
    // Assets come from this server only.
    for (const [, url] of page.matchAll(/(?:src|href)="([^"#]+)"/g)) expect(url, url).toMatch(/^\/(?!\/)/);
  });
});

describe('answers checked against their schema (APP_ENV=test)', () => {
  async function appWith(handler: () => unknown, inputs: { querystring?: object } = {}) {
    const app = createHttpServer({
      logger: createLogger({ level: 'silent', pretty: false, name: 'test' }),
      bodyLimit: 1024,
      requestTimeoutMs: 10_000,
      trustProxy: false,
      errorPages: { notFound: () => 'not found', error: () => 'error' },
    });
    await registerApiDocument(app, { title: 't', version: '1', description: 't', serverUrl: 'http://127.0.0.1' });
    checkAnswersAgainstSchemas(app);
    app.get(
      '/api/v1/thing',
      {
        schema: {
          summary: 'A thing',
          tags: ['operations'],
          security: ACCESS.anyone,
          ...inputs,
          response: { 200: Type.Object({ name: Type.String() }), ...errorResponses('not_found') },
        },
      },
      handler as never,
    );
    return app;
  }

  it('lets a documented answer through', async () => {
    const app = await appWith(() => ({ name: 'x' }));
    expect((await app.inject('/api/v1/thing')).json()).toEqual({ name: 'x' });
    const missing = await appWith(() => {
      throw new AppError('not_found');
    });
    expect((await missing.inject('/api/v1/thing')).statusCode).toBe(404);
  });

  it('turns an undocumented error code, status or field into a 500 that names it', async () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => {
          throw new AppError('event_full');
        },
        /answered 409, a status its schema does not list/,
      ],
      [
        () => {
          throw new AppError('invalid_credentials');
        },
        /answered 401, a status/,
      ],
      [
        () => ({ name: 'x', secret: 'y' }),
        /answered 200 with a body its schema does not describe \(\/ must NOT have additional properties: secret\)/,
      ],
      [() => ({ name: 1 }), /answered 200 with a body its schema does not describe \(\/name must be string/],
    ];
    for (const [handler, problem] of cases) {
      const response = await (await appWith(handler)).inject('/api/v1/thing');
      expect(response.statusCode).toBe(500);
      expect(response.json().error.code).toBe('internal_error');
      expect(response.json().error.message).toMatch(problem);
    }
  });

  it('checks the code within a listed status', async () => {
    // A route with a query lists 400 validation_failed, but not invalid_cursor.
    const app = await appWith(
      () => {
        throw new AppError('invalid_cursor');
      },
      { querystring: Type.Object({ q: Type.Optional(Type.String()) }) },
    );
    const response = await app.inject('/api/v1/thing');
    expect(response.statusCode).toBe(500);
    expect(response.json().error.message).toMatch(/answered 400 invalid_cursor, an error code its schema does not list/);
  });
});
