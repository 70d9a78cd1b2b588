// What the fuzzer aims at, and how a generated plan becomes bytes on the wire:
// every operation of the OpenAPI document, every HTML form the pages show, every
// page with hostile query strings, and malformed HTTP itself.
import fc from 'fast-check';
import {
  fromSchema,
  HOSTILE_DATES,
  HOSTILE_LIMITS,
  HOSTILE_NEXT,
  hostileCursors,
  hostileString,
  hostileValue,
  type Hints,
} from './arbitraries.js';
import type { RawRequest } from '../support/raw-http.js';
import { ROLES, type RoleName, type World } from './world.js';

type Schema = Record<string, any>;

export interface DocumentOperation {
  key: string;
  method: string;
  /** `/api/v1/events/{id}` */
  path: string;
  pathParams: { name: string; schema: Schema }[];
  queryParams: { name: string; schema: Schema; required: boolean }[];
  jsonBody?: Schema;
  multipartBody: boolean;
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

export function operationsOf(document: { paths: Record<string, Record<string, any>> }): DocumentOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => {
      const parameters = (operation.parameters ?? []) as { name: string; in: string; required?: boolean; schema: Schema }[];
      const content = operation.requestBody?.content ?? {};
      return {
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema, required: Boolean(p.required) })),
        jsonBody: content['application/json']?.schema,
        multipartBody: Boolean(content['multipart/form-data']),
        responses: operation.responses,
      };
    }),
  );
}

// ------------------------------------------------------------ late values

/** A value only known when the request is sent: a fixture's id, the caller's own password. */
export class Late {
  constructor(readonly resolve: (context: SendContext) => unknown) {}
}

export interface SendContext {
  world: World;
  role: RoleName;
}

const pick = <T>(list: readonly T[], index: number): T | undefined => (list.length ? list[index % list.length] : undefined);

/** Late values sit near the top (a field, a parameter): deeper than this is hostile nesting, sent as it is. */
const LATE_DEPTH = 8;

function resolveLate(value: unknown, context: SendContext, depth = 0): unknown {
  if (value instanceof Late) return value.resolve(context);
  if (depth > LATE_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => resolveLate(item, context, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(copy, key, {
        value: resolveLate(item, context, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

const ROLE_FIELDS = ['member', 'owner', 'admin'] as const;

/** Values that make a request go deep: the caller's own credentials, ids that exist, cursors the API handed out. */
const hints: Hints = (field) => {
  switch (field) {
    case 'email':
      return fc.oneof(
        fc.constantFrom(...ROLE_FIELDS).map((role) => new Late(({ world }) => world.identities.get(role)?.email)),
        fc.constant(new Late(({ world, role }) => (role === 'anonymous' ? undefined : world.identities.get(role)?.email))),
        fc.constant(new Late(({ world }) => `  ${world.identities.get('member')?.email.toUpperCase()}  `)),
      );
    case 'password':
    case 'currentPassword':
      return fc.constant(new Late(({ world, role }) => (role === 'anonymous' ? 'not a password' : world.identities.get(role)?.password)));
    case 'actorId':
      return fc.nat().map((i) => new Late(({ world }) => pick(world.pools.users, i)));
    case 'subjectId':
      return fc.nat().map((i) => new Late(({ world }) => pick([...world.pools.events, ...world.pools.users], i)));
    case 'cursor':
      return fc.oneof(
        hostileCursors(),
        fc.nat().map((i) => new Late(({ world }) => pick(world.pools.cursors, i))),
      );
    case 'limit':
    case 'days':
      return fc.constantFrom(...HOSTILE_LIMITS);
    case 'startsAt':
    case 'endsAt':
      return fc.constantFrom(...HOSTILE_DATES);
    case 'next':
      return fc.constantFrom(...HOSTILE_NEXT, '/', '/me', '/events/new');
    default:
      return undefined;
  }
};

// ------------------------------------------------------------- path values

type PathKind = 'events' | 'photos' | 'exports' | 'jobs' | 'flags' | 'any';

/** Which ids a path parameter takes, from the segment before it (`/events/{id}` takes event ids). */
export function pathKind(path: string, name: string): PathKind {
  const segments = path.split('/');
  const at = segments.findIndex((segment) => segment === `{${name}}` || segment === `:${name}`);
  const before = segments[at - 1] ?? '';
  return (['events', 'photos', 'exports', 'jobs', 'flags'] as const).find((kind) => kind === before) ?? 'any';
}

const BROKEN_PATH_VALUES = [
  '%FF',
  '%C3%28',
  '%ED%A0%80',
  '%E0%80%80',
  '%C0%AF',
  '%',
  '%zz',
  '..',
  '.',
  '%2e%2e%2f%2e%2e',
  '%00',
  'x'.repeat(65),
  'y'.repeat(101),
  '%20',
  '+',
  ';',
  '%3B',
  '%2F',
];

/** Every byte outside the unreserved set percent-encoded (lone surrogates become U+FFFD, as a browser would send them). */
export function encodeComponent(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function fixtureFor(kind: PathKind, world: World, index: number): string | undefined {
  const f = world.fixtures;
  switch (kind) {
    case 'events':
      return pick([f.publicEvent, f.unlistedEvent, f.privateEvent, f.fullEvent], index);
    case 'photos':
      return f.photo;
    case 'exports':
      return f.exportId;
    case 'jobs':
      return f.deadJob;
    case 'flags':
      return pick(['photos.uploads', 'home.counters', 'fuzz.flag', 'fuzz-made.by_fuzz'], index);
    case 'any':
      return pick([f.publicEvent, f.photo, f.exportId], index);
  }
}

/** A path parameter: a fixture's id (the usual case), any id of the database, a non-canonical id, or something hostile. Encoded. */
function pathValue(kind: PathKind): fc.Arbitrary<Late> {
  const poolOf = (world: World): string[] => (kind === 'flags' ? [] : kind === 'any' ? world.pools.events : world.pools[kind]);
  return fc.oneof(
    { weight: 8, arbitrary: fc.nat().map((i) => new Late(({ world }) => encodeComponent(fixtureFor(kind, world, i) ?? 'none'))) },
    { weight: 3, arbitrary: fc.nat().map((i) => new Late(({ world }) => encodeComponent(pick(poolOf(world), i) ?? 'none'))) },
    {
      weight: 1,
      arbitrary: fc.nat().map((i) => new Late(({ world }) => encodeComponent((fixtureFor(kind, world, i) ?? 'none').toUpperCase()))),
    },
    { weight: 1, arbitrary: fc.uuid().map((id) => new Late(() => id)) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_PATH_VALUES).map((raw) => new Late(() => raw)) },
    { weight: 2, arbitrary: hostileString().map((value) => new Late(() => encodeComponent(value))) },
  );
}

// --------------------------------------------------------------- headers

export interface Plan {
  target: string;
  role: RoleName;
  method: string;
  /** The path with its parameters, already encoded (Late until sent). */
  path: unknown[];
  query: [unknown, unknown][];
  /** Query bytes sent as they are, instead of `query`. */
  rawQuery?: string;
  body: BodyPlan;
  headers: [string, string][];
  cookie: 'role' | 'tampered' | 'garbage' | 'none' | 'another';
  /** Whether the path reaches the operation as written (no empty or odd parameter that may route elsewhere). */
  routable: boolean;
}

export type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string }
  | { kind: 'form'; fields: [string, unknown][]; contentType: string }
  | { kind: 'raw'; bytes: Buffer; contentType?: string; cutAt?: number }
  | { kind: 'multipart'; parts: MultipartPart[]; boundaryInHeader: boolean; contentType?: string; truncate: boolean };

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  /** 'image', 'garbage', 'empty', 'truncated-image' or the bytes themselves. */
  data: string;
}

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json; charset=latin1',
  'application/json;charset=utf-16',
];
const WRONG_TYPES = [
  'text/plain',
  'application/xml',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'application/vnd.api+json',
  'application/json, text/plain',
  'image/png',
  '',
];

const RAW_BODIES: Buffer[] = [
  Buffer.from('{'),
  Buffer.from('{"a":'),
  Buffer.from('[1,]'),
  Buffer.from('null'),
  Buffer.from('"just a string"'),
  Buffer.from('123'),
  Buffer.from('true'),
  Buffer.from(''),
  Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  Buffer.from('{"__proto__":{"isAdmin":true,"role":"admin"},"title":"x"}'),
  Buffer.from('{"constructor":{"prototype":{"isAdmin":true}}}'),
  Buffer.from('{"title":"a","title":"b"}'),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"title":"bom"}')]),
  Buffer.from('{"title":"utf16"}', 'utf16le'),
  Buffer.from('{"email":"\\u0000@x.y","password":"\\ud800\\ud800\\ud800xx"}'),
  Buffer.from('['.repeat(40_000) + ']'.repeat(40_000)),
  Buffer.from('{"a":'.repeat(15_000) + '1' + '}'.repeat(15_000)),
  Buffer.from(`{"enabled":true,"metadata":{"a":${'{"a":'.repeat(8_000)}1${'}'.repeat(8_000)}}}`),
  Buffer.alloc(120 * 1024, 'x'),
];

/** The body of a JSON operation: mostly derived from its schema, sometimes garbage, sometimes the wrong encoding. */
function jsonBodyPlan(schema: Schema | undefined, hostile: boolean): fc.Arbitrary<BodyPlan> {
  const value = fromSchema(schema ?? { type: 'object' }, { hints, hostile }, '');
  const asJson = fc.record({ kind: fc.constant('json' as const), value, contentType: fc.constantFrom(...JSON_TYPES) });
  if (!schema && !hostile) return fc.oneof({ weight: 5, arbitrary: fc.constant({ kind: 'none' }) }, { weight: 1, arbitrary: asJson });
  return fc.oneof(
    { weight: schema ? 12 : 2, arbitrary: asJson },
    { weight: schema ? 0 : 8, arbitrary: fc.constant({ kind: 'none' }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('raw' as const),
        bytes: fc.constantFrom(...RAW_BODIES),
        contentType: fc.constantFrom(...JSON_TYPES),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value, contentType: fc.constantFrom(...WRONG_TYPES) }) },
    {
      weight: 1,
      arbitrary: value.map((fields) => ({
        kind: 'form' as const,
        fields: Object.entries(typeof fields === 'object' && fields ? fields : { value: fields }),
        contentType: 'application/x-www-form-urlencoded',
      })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('raw' as const),
        bytes: value.map((v) => Buffer.from(JSON.stringify(v ?? null))),
        contentType: fc.constantFrom(...JSON_TYPES),
        cutAt: fc.nat({ max: 20 }),
      }),
    },
  );
}

const multipartPart: fc.Arbitrary<MultipartPart> = fc.record(
  {
    name: fc.oneof(
      { weight: 6, arbitrary: fc.constant('file') },
      // The upload's one field besides the file (UploadBody), where a part without a filename is a field.
      { weight: 1, arbitrary: fc.constant('shareLocation') },
      { weight: 1, arbitrary: fc.constantFrom('photo', 'files', '', 'file\u0000', 'filé') },
    ),
    filename: fc.oneof(fc.constantFrom('photo.png', 'x.jpg', '../../etc/passwd', 'a\r\nb.png', '\ud800.png', 'ä.png', ''), hostileString()),
    contentType: fc.constantFrom('image/png', 'image/jpeg', 'text/html', 'application/octet-stream', 'image/svg+xml'),
    data: fc.oneof(
      { weight: 4, arbitrary: fc.constant('image') },
      { weight: 1, arbitrary: fc.constantFrom('garbage', 'empty', 'truncated-image', '<svg onload=alert(1)>', 'GIF89a') },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('true', 'false'), hostileString()) },
    ),
  },
  { requiredKeys: ['name', 'data'] },
);

function multipartPlan(): fc.Arbitrary<BodyPlan> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('multipart' as const),
        parts: fc.array(multipartPart, { minLength: 1, maxLength: 3 }),
        boundaryInHeader: fc.constant(true),
        truncate: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('multipart' as const),
        parts: fc.array(multipartPart, { minLength: 0, maxLength: 2 }),
        boundaryInHeader: fc.boolean(),
        contentType: fc.constantFrom(
          'multipart/form-data',
          'multipart/form-data; boundary=',
          'multipart/form-data; boundary="',
          'multipart/mixed; boundary=x',
          'application/json',
        ),
        truncate: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: jsonBodyPlan(undefined, true) },
  );
}

function headerPlan(unsafe: boolean): fc.Arbitrary<[string, string][]> {
  return fc
    .record({
      accept: fc.constantFrom('application/json', 'application/json', 'text/html', '*/*', '', 'text/html;q=0.1, application/json'),
      site: fc.oneof(
        { weight: 8, arbitrary: fc.constant('none') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'cross-site',
            'same-origin',
            'same-site',
            'evil-origin',
            'null-origin',
            'same-origin-header',
            'scheme-mismatch',
          ),
        },
      ),
      requestId: fc.oneof(
        { weight: 5, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom('abc-123', 'x'.repeat(200), 'bad id\u00ff', '../../') },
      ),
      forwarded: fc.oneof(
        { weight: 6, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom('1.2.3.4', 'not-an-ip', '1.2.3.4, 5.6.7.8') },
      ),
    })
    .map(({ accept, site, requestId, forwarded }) => {
      const headers: [string, string][] = [];
      if (accept) headers.push(['accept', accept]);
      if (unsafe && site !== 'none') {
        if (site === 'evil-origin') headers.push(['origin', 'http://evil.example'], ['sec-fetch-site', 'cross-site']);
        else if (site === 'null-origin') headers.push(['origin', 'null']);
        else if (site === 'same-origin-header') headers.push(['origin', '__SELF__']);
        else if (site === 'scheme-mismatch') headers.push(['origin', '__SELF_HTTPS__']);
        else headers.push(['sec-fetch-site', site]);
      }
      if (requestId) headers.push(['x-request-id', requestId]);
      if (forwarded) headers.push(['x-forwarded-for', forwarded]);
      return headers;
    });
}

const cookiePlan = fc.oneof(
  { weight: 12, arbitrary: fc.constant('role' as const) },
  { weight: 1, arbitrary: fc.constantFrom('tampered' as const, 'garbage' as const, 'another' as const) },
);

function queryPlan(params: DocumentOperation['queryParams'], hostile: boolean): fc.Arbitrary<[unknown, unknown][]> {
  const known = params.map((param) =>
    fc.option(
      fromSchema(param.schema, { hints, hostile }, param.name).map((value) => [param.name, value] as [unknown, unknown]),
      { freq: 2 },
    ),
  );
  const extra = hostile
    ? fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('limit', 'cursor', 'next', 'notice', '__proto__', 'constructor', 'limit[]', 'a[b]'), hostileString()),
          hostileValue().map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
        ),
        { maxLength: 3 },
      )
    : fc.constant([] as [unknown, unknown][]);
  return fc
    .tuple(fc.tuple(...known), extra)
    .map(([chosen, more]) => [...chosen.filter((entry): entry is [unknown, unknown] => entry !== null), ...more]);
}

const RAW_QUERIES = [
  'limit=%FF',
  'cursor=%ED%A0%80',
  'limit=1&limit=2',
  'limit',
  '=&=&=',
  '%',
  'cursor=%00',
  'a=%C0%AF&limit=%00',
  'limit=' + '9'.repeat(400),
  '&&&',
  'limit=1;cursor=2',
];

function pathPlan(path: string, params: { name: string }[]): fc.Arbitrary<{ path: unknown[]; routable: boolean }> {
  const values = params.map((param) => pathValue(pathKind(path, param.name)));
  return fc.tuple(...values).map((chosen) => {
    const parts: unknown[] = [];
    let rest = path;
    params.forEach((param, i) => {
      const marker = rest.includes(`{${param.name}}`) ? `{${param.name}}` : `:${param.name}`;
      const at = rest.indexOf(marker);
      parts.push(rest.slice(0, at), chosen[i]);
      rest = rest.slice(at + marker.length);
    });
    parts.push(rest);
    return { path: parts, routable: true };
  });
}

/** Plans for one operation of the document. */
export function operationPlans(operation: DocumentOperation): fc.Arbitrary<Plan> {
  const unsafe = !['GET', 'HEAD'].includes(operation.method);
  return fc.boolean().chain((hostile) =>
    fc
      .record({
        role: fc.constantFrom(...ROLES),
        path: pathPlan(operation.path, operation.pathParams),
        query: queryPlan(operation.queryParams, hostile),
        rawQuery: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES) }),
        body: operation.multipartBody
          ? multipartPlan()
          : unsafe
            ? jsonBodyPlan(operation.jsonBody, hostile)
            : fc.constant({ kind: 'none' }),
        headers: headerPlan(unsafe),
        cookie: cookiePlan,
      })
      .map(({ path, ...rest }) => ({ ...rest, target: operation.key, method: operation.method, path: path.path, routable: path.routable })),
  );
}

// ------------------------------------------------------- forms and pages

export interface FormField {
  name: string;
  values: string[];
}

export interface FormTarget {
  key: string;
  method: 'POST';
  /** `/events/:id/book` */
  path: string;
  multipart: boolean;
  fields: FormField[];
  discovered: boolean;
}

/** A form's fields: crawled defaults (hidden inputs, options) or hostile text, some missing, some unknown. */
export function formPlans(form: FormTarget): fc.Arbitrary<Plan> {
  const fieldValue = (field: FormField) =>
    fc.oneof(
      { weight: 4, arbitrary: field.values.length ? fc.constantFrom(...field.values) : fc.string({ maxLength: 30 }) },
      { weight: 2, arbitrary: hints(field.name) ?? fromSchema({ type: 'string' }, { hints, hostile: false }, field.name) },
      { weight: 2, arbitrary: hostileString() },
    );
  const fields = fc
    .tuple(
      fc.tuple(
        ...form.fields.map((field) =>
          fc.option(
            fieldValue(field).map((value) => [field.name, value] as [string, unknown]),
            { freq: 6 },
          ),
        ),
      ),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom('next', 'notice', '__proto__', 'extra'), hostileString()), hostileString()), {
        maxLength: 2,
      }),
    )
    .map(([known, extra]) => [...known.filter((entry): entry is [string, unknown] => entry !== null), ...extra]);
  const body: fc.Arbitrary<BodyPlan> = form.multipart
    ? fc.oneof(
        { weight: 5, arbitrary: multipartPlan() },
        {
          weight: 1,
          arbitrary: fields.map((f) => ({ kind: 'form' as const, fields: f, contentType: 'application/x-www-form-urlencoded' })),
        },
      )
    : fc.oneof(
        {
          weight: 10,
          arbitrary: fields.map((f) => ({ kind: 'form' as const, fields: f, contentType: 'application/x-www-form-urlencoded' })),
        },
        {
          weight: 1,
          arbitrary: fields.map((f) => ({ kind: 'json' as const, value: Object.fromEntries(f), contentType: 'application/json' })),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('raw' as const),
            bytes: fc.constantFrom(
              Buffer.from('a=%FF&b=%&c=%E0%80'),
              Buffer.from('='.repeat(5000)),
              Buffer.alloc(110 * 1024, 'a'),
              Buffer.from('next=/%0d%0aSet-Cookie:x=1'),
            ),
            contentType: fc.constant('application/x-www-form-urlencoded'),
          }),
        },
        { weight: 1, arbitrary: multipartPlan() },
      );
  const params = [...form.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1]! }));
  return fc
    .record({
      role: fc.constantFrom(...ROLES),
      path: pathPlan(form.path, params),
      body,
      accept: fc.constantFrom('text/html', 'text/html', 'text/html', 'application/json'),
      site: headerPlan(true),
      cookie: cookiePlan,
    })
    .map(({ path, accept, site, ...rest }) => ({
      ...rest,
      target: form.key,
      method: 'POST',
      path: path.path,
      routable: path.routable,
      query: [],
      headers: [['accept', accept], ...site.filter(([name]) => name !== 'accept')] as [string, string][],
    }));
}

const PAGE_QUERY_NAMES = [
  'next',
  'notice',
  'cursor',
  'photos',
  'upload',
  'count',
  'flag',
  'action',
  'actorId',
  'subjectType',
  'subjectId',
  'limit',
  'status',
  '__proto__',
  'constructor',
];

/** A page (or a media or asset path) with a hostile query string. */
export function pagePlans(path: string): fc.Arbitrary<Plan> {
  const params = [...path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1]! }));
  const wildcard = path.endsWith('*');
  const pathArb: fc.Arbitrary<{ path: unknown[]; routable: boolean }> = wildcard ? wildcardPath(path) : pathPlan(path, params);
  const query = fc.array(
    fc.tuple(
      fc.constantFrom(...PAGE_QUERY_NAMES),
      fc.oneof(
        { weight: 3, arbitrary: hostileString() },
        {
          weight: 2,
          arbitrary: fc.constantFrom(...HOSTILE_NEXT, 'booked', 'full', 'uploaded', 'too_large', 'constructor', '__proto__', 'toString'),
        },
        { weight: 2, arbitrary: hostileCursors() },
      ),
    ),
    { maxLength: 4 },
  );
  return fc
    .record({
      role: fc.constantFrom(...ROLES),
      path: pathArb,
      query,
      rawQuery: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES, 'next=%0d%0a', 'notice=%ff') },
      ),
      accept: fc.constantFrom('text/html', 'text/html', 'application/json', '*/*'),
      cookie: cookiePlan,
      method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD'),
    })
    .map(({ path: chosen, accept, ...rest }) => ({
      ...rest,
      target: `GET ${path}`,
      path: chosen.path,
      routable: chosen.routable,
      body: { kind: 'none' },
      headers: [['accept', accept]] as [string, string][],
    }));
}

function wildcardPath(path: string): fc.Arbitrary<{ path: unknown[]; routable: boolean }> {
  const prefix = path.slice(0, -1);
  if (prefix === '/assets/') {
    return fc
      .constantFrom(
        'app.css',
        'app.js',
        'favicon.svg',
        '../package.json',
        '%2e%2e/%2e%2e/etc/passwd',
        'app.css%00',
        '..%2f..%2fsrc%2fapp.ts',
        'nope.css',
        '%FF',
        'app.css?v=%00',
      )
      .map((rest) => ({ path: [prefix + rest], routable: true }));
  }
  // /media/: links the API handed out, some tampered with.
  return fc.tuple(fc.nat(), fc.constantFrom('as-is', 'sig', 'exp', 'key', 'dl', 'traversal', 'nul')).map(([i, tamper]) => ({
    path: [
      new Late(({ world }) => {
        const link = pick(world.pools.media, i);
        if (!link) return `${prefix}originals/none?exp=1&sig=x`;
        const url = new URL(link);
        if (tamper === 'sig') url.searchParams.set('sig', 'AAAA');
        if (tamper === 'exp') url.searchParams.set('exp', '99999999999');
        if (tamper === 'dl') url.searchParams.set('dl', 'evil\r\n.html');
        if (tamper === 'key') url.pathname = url.pathname.replace(/[0-9a-f]{8}/, '00000000');
        if (tamper === 'traversal') url.pathname = `${prefix}..%2f..%2fetc%2fpasswd`;
        if (tamper === 'nul') url.pathname += '%00';
        return url.pathname + url.search;
      }),
    ],
    routable: true,
  }));
}

// ------------------------------------------------------ malformed HTTP

export const PROTOCOL_TARGET = 'malformed HTTP';

/** Requests the HTTP parser itself has to refuse, or methods no route has. */
export function protocolPlans(): fc.Arbitrary<RawRequest> {
  return fc.constantFrom<RawRequest>(
    { method: 'GET', target: '/api/v1/events', headers: [['x-bad', 'a\u0001b']] },
    { method: 'GET', target: '/api/v1/events', headers: [['bad header', 'x']] },
    { method: 'GET', target: '/api/v1/events', headers: [['x-folded', 'a\r\n b']] },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['content-length', 'abc'],
        ['content-type', 'application/json'],
      ],
      body: Buffer.from('{}'),
    },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['content-length', '2'],
        ['transfer-encoding', 'chunked'],
        ['content-type', 'application/json'],
      ],
      body: Buffer.from('0\r\n\r\n'),
    },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['transfer-encoding', 'chunked'],
        ['content-type', 'application/json'],
      ],
      body: Buffer.from('zz\r\n{}\r\n0\r\n\r\n'),
    },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['content-length', '5'],
        ['content-length', '6'],
        ['content-type', 'application/json'],
      ],
      body: Buffer.from('{}'),
    },
    { method: 'GET', target: '/api/v1/events\u00ff\u00fe', headers: [] },
    { method: 'GET', target: '/api/v1/%', headers: [] },
    { method: 'GET', target: '/%ED%A0%80', headers: [] },
    { method: 'GET', target: '/events/%FF', headers: [['accept', 'text/html']] },
    { method: 'GET', target: '//evil.example/', headers: [] },
    { method: 'GET', target: 'http://evil.example/api/v1/events', headers: [] },
    { method: 'GET', target: '*', headers: [] },
    { method: 'OPTIONS', target: '/api/v1/events', headers: [] },
    { method: 'TRACE', target: '/api/v1/events', headers: [] },
    { method: 'PROPFIND', target: '/api/v1/events', headers: [] },
    { method: 'DELETE', target: '/api/v1/events', headers: [] },
    { method: 'PUT', target: '/api/v1/me', headers: [['content-type', 'application/json']], body: Buffer.from('{}') },
    { method: 'GET', target: `/api/v1/events/${'a'.repeat(8_000)}`, headers: [] },
    { method: 'GET', target: '/api/v1/events', headers: [['cookie', `epu_session=${'A'.repeat(6_000)}`]] },
    { method: 'GET', target: '/api/v1/events', headers: Array.from({ length: 120 }, (_, i) => [`x-h${i}`, 'v'] as [string, string]) },
    { method: 'GET', target: '/api/v1/events', headers: [['x-big', 'v'.repeat(20_000)]] },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['content-type', 'application/json'],
        ['content-encoding', 'gzip'],
      ],
      body: Buffer.from('not gzip'),
    },
    {
      method: 'POST',
      target: '/api/v1/auth/login',
      headers: [
        ['content-type', 'application/json'],
        ['expect', '100-continue'],
      ],
      body: Buffer.from('{"email":"a","password":"b"}'),
    },
    {
      method: 'POST',
      target: '/api/v1/events',
      headers: [['content-type', 'application/json']],
      body: Buffer.from('{"title":"cut'),
      cutBodyAt: 5,
    },
  );
}

// -------------------------------------------------------------- sending

function formEncode(fields: [string, unknown][]): string {
  return fields
    .map(
      ([name, value]) =>
        `${encodeComponent(String(name))}=${encodeComponent(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''))}`,
    )
    .join('&');
}

async function multipartBytes(
  body: Extract<BodyPlan, { kind: 'multipart' }>,
  world: World,
): Promise<{ bytes: Buffer; contentType: string }> {
  const boundary = `----fuzz${Math.random().toString(16).slice(2)}`;
  const image = await world.imageBytes;
  const chunks: Buffer[] = [];
  for (const part of body.parts) {
    const data =
      part.data === 'image'
        ? image
        : part.data === 'truncated-image'
          ? image.subarray(0, Math.floor(image.length / 2))
          : part.data === 'empty'
            ? Buffer.alloc(0)
            : part.data === 'garbage'
              ? Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256))
              : Buffer.from(part.data);
    const filename = part.filename !== undefined ? `; filename="${part.filename}"` : '';
    chunks.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="${part.name}"${filename}\r\n${part.contentType ? `content-type: ${part.contentType}\r\n` : ''}\r\n`,
        'utf8',
      ),
      data,
      Buffer.from('\r\n'),
    );
  }
  if (!body.truncate) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const contentType = body.contentType ?? (body.boundaryInHeader ? `multipart/form-data; boundary=${boundary}` : 'multipart/form-data');
  return { bytes: Buffer.concat(chunks), contentType };
}

/** The bytes of a plan, with its late values resolved against the world as it is now. */
export async function toRawRequest(plan: Plan, world: World, selfOrigin: string): Promise<RawRequest> {
  const context: SendContext = { world, role: plan.role };
  const path = (resolveLate(plan.path, context) as (string | number | null | undefined)[]).map((part) => String(part ?? '')).join('');
  let target = path;
  if (plan.rawQuery !== undefined) target += `?${plan.rawQuery}`;
  else {
    const query = (resolveLate(plan.query, context) as [unknown, unknown][]).filter(([, value]) => value !== undefined);
    if (query.length) target += `?${formEncode(query.map(([name, value]) => [String(name), value]))}`;
  }
  const headers: [string, string][] = plan.headers.map(([name, value]) => [
    name,
    value === '__SELF__' ? selfOrigin : value === '__SELF_HTTPS__' ? selfOrigin.replace('http:', 'https:') : value,
  ]);
  const cookie = cookieFor(plan, world);
  if (cookie) headers.push(['cookie', cookie]);
  const body = plan.body;
  switch (body.kind) {
    case 'none':
      return { method: plan.method, target, headers };
    case 'json': {
      const value = resolveLate(body.value, context);
      headers.push(['content-type', body.contentType]);
      return { method: plan.method, target, headers, body: Buffer.from(JSON.stringify(value) ?? '', 'utf8') };
    }
    case 'form':
      headers.push(['content-type', body.contentType]);
      return {
        method: plan.method,
        target,
        headers,
        body: Buffer.from(formEncode(resolveLate(body.fields, context) as [string, unknown][]), 'utf8'),
      };
    case 'raw':
      if (body.contentType !== undefined) headers.push(['content-type', body.contentType]);
      return { method: plan.method, target, headers, body: body.bytes, cutBodyAt: body.cutAt };
    case 'multipart': {
      const { bytes, contentType } = await multipartBytes(body, world);
      headers.push(['content-type', contentType]);
      return { method: plan.method, target, headers, body: bytes };
    }
  }
}

function cookieFor(plan: Plan, world: World): string | undefined {
  const own = world.cookieOf(plan.role);
  switch (plan.cookie) {
    case 'role':
      return own;
    case 'none':
      return undefined;
    case 'garbage':
      return 'epu_session=garbage; other=1';
    case 'tampered':
      return own ? own.slice(0, -3) + (own.endsWith('A') ? 'B' : 'A') + own.slice(-2) : 'epu_session=';
    case 'another':
      return `${own ?? ''}; ${world.cookieOf('admin')}`.replace(/^; /, '');
  }
}
