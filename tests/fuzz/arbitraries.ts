// What the fuzzer sends: values derived from the OpenAPI document's schemas,
// mixed with a corpus of hostile ones (control characters, broken Unicode,
// impossible dates, numbers of the wrong kind, cursors of the wrong shape).
import fc from 'fast-check';

type Schema = Record<string, any>;

const uuid = () => fc.uuid({ version: 4 });

// ---------------------------------------------------------------- the corpus

export const HOSTILE_STRINGS: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0001\u0002\u0003\u0008\u000b\u000c\u001b\u001f\u007f',
  '\r\n\r\nx: y',
  '\t',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  '\ufeff',
  '\u202e\u2066',
  '\u200b',
  '\u2028\u2029',
  '😀',
  'e\u0301',
  '\uffff\ufffe',
  'x'.repeat(201),
  'x'.repeat(10_000),
  'ä'.repeat(5_000),
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '<script>alert(1)</script>',
  '{{7*7}}${7*7}',
  '../../../../etc/passwd',
  '%00%ff%2e%2e',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '1',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  'true',
  'null',
  '[]',
  '{}',
];

export const HOSTILE_DATES: string[] = [
  '2016-12-31T23:59:60Z',
  '2030-06-30T23:59:60+00:00',
  '2030-01-01T12:00:60Z',
  '2030-02-30T00:00:00Z',
  '2030-13-01T00:00:00Z',
  '2030-01-01T24:00:00Z',
  '2030-01-01T00:60:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '1970-01-01T00:00:00Z',
  '2030-01-01T00:00:00+14:00',
  '2030-01-01T00:00:00-23:59',
  '2030-01-01T00:00:00+99:99',
  '2030-01-01t00:00:00z',
  '2030-01-01T00:00:00.123456789Z',
  '2030-01-01T00:00:00,5Z',
  ' 2030-01-01T00:00:00Z',
  '2030-01-01',
  '2030-01-01T00:00',
  '2030-01-01T00:00:00',
  '2/30/2030',
  'Tue, 01 Jan 2030 00:00:00 GMT',
  '1893456000',
  'now',
  'infinity',
  '-infinity',
  'epoch',
];

export const HOSTILE_NUMBERS: unknown[] = [
  0,
  -1,
  -0,
  0.5,
  1.5,
  1e21,
  -1e21,
  2 ** 53 + 1,
  1e308,
  100_000,
  100_001,
  2 ** 31,
  '5',
  '1e2',
  '0x10',
  true,
  false,
  null,
  [],
  {},
  [1],
];

/** Values that come as strings in query strings: limits and days. */
export const HOSTILE_LIMITS: string[] = [
  '0',
  '-1',
  '1.5',
  '1e2',
  '101',
  '1000',
  '99999999999999999999',
  ' 5',
  '5 ',
  '０',
  '٣',
  '0x10',
  '+5',
  '',
  'NaN',
  '007',
  '0007',
];

export const HOSTILE_NEXT: string[] = [
  '//evil.example',
  '/\\evil.example',
  '/\t/evil.example',
  '/%09/evil.example',
  '\t//evil.example',
  '/\r\nset-cookie: x=1',
  '/\n/evil.example',
  '/\u0000',
  'https://evil.example/',
  'javascript:alert(1)',
  '/%2F%2Fevil.example',
  '\\\\evil.example',
  ' /me',
  '/me\u2028',
  '/' + 'a'.repeat(5_000),
  '/\ud800',
];

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Cursors that decode to the wrong types or shapes, and some that do not decode at all. */
export function hostileCursors(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      ...[
        ['2030-01-01T00:00:00.000Z', 'not-a-uuid'],
        ['1', '00000000-0000-4000-8000-000000000000'],
        ['12', '00000000-0000-4000-8000-000000000000'],
        ['2/30/2030', '00000000-0000-4000-8000-000000000000'],
        ['Tue, 01 Jan 2030 00:00:00 GMT', '00000000-0000-4000-8000-000000000000'],
        ['+275760-09-13T00:00:00.000Z', '00000000-0000-4000-8000-000000000000'],
        ['-271821-04-20T00:00:00.000Z', '00000000-0000-4000-8000-000000000000'],
        ['2016-12-31T23:59:60Z', '00000000-0000-4000-8000-000000000000'],
        ['2030-01-01 foo 5', '00000000-0000-4000-8000-000000000000'],
        ['March 7, 2030', '00000000-0000-4000-8000-000000000000'],
        ['2030-01-01T00:00:00.000Z\u0000', '00000000-0000-4000-8000-000000000000'],
        ['00000000-0000-4000-8000-000000000000', '2030-01-01T00:00:00.000Z'],
        [1, 2],
        [null, null],
        ['2030-01-01T00:00:00.000Z'],
        ['2030-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000', 'extra'],
        { at: '2030-01-01T00:00:00.000Z', id: '00000000-0000-4000-8000-000000000000' },
        'a string',
        42,
        null,
        [[[[['deep']]]]],
      ].map(b64),
      '!!!not base64!!!',
      '%00',
      '\u0000',
      '\ud800',
      'x'.repeat(513),
      b64('{"broken json'),
      Buffer.from([0xff, 0xfe, 0xfd]).toString('base64url'),
    ),
    fc.tuple(fc.string(), fc.string()).map(b64),
    fc.jsonValue({ maxDepth: 3 }).map(b64),
    fc
      .tuple(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        uuid(),
      )
      .map(b64),
  );
}

/** A string that is hostile to something: a stored field, a parser, a header, a log line. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS, ...HOSTILE_DATES, ...HOSTILE_LIMITS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
    // Lone surrogates and other invalid UTF-16 between ordinary letters.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 5 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 5 }))
        .map(([a, unit, b]) => `${a}${String.fromCharCode(unit)}${b}`),
    },
    { weight: 1, arbitrary: fc.integer({ min: 201, max: 70_000 }).map((n) => 'y'.repeat(n)) },
  );
}

/** Any value of the wrong kind: numbers as strings, strings as numbers, nulls, arrays, objects, deep nesting. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: hostileString() },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_DATES) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 2_000 }).map((depth) => nested(depth)) },
  );
}

/** `[[[…]]]` or `{"a":{"a":…}}` this deep. */
export function nested(depth: number, kind: 'array' | 'object' = depth % 2 ? 'array' : 'object'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

// ------------------------------------------------------ values from schemas

/** Values the caller knows to be meaningful for a field (a real id, the caller's own password). */
export type Hints = (field: string) => fc.Arbitrary<unknown> | undefined;

export interface FromSchemaOptions {
  hints: Hints;
  /** Mix hostile values, unknown fields and missing ones in; otherwise only valid values. */
  hostile: boolean;
}

function validString(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 60, 400);
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
      .chain((date) =>
        fc.constantFrom(date.toISOString(), date.toISOString().replace('Z', '+02:00'), date.toISOString().slice(0, 19) + 'Z'),
      );
  }
  if (schema.format === 'email') {
    return fc.oneof(
      fc.emailAddress().filter((email) => email.length >= min && email.length <= max),
      fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `fuzz-${a}-${b}@example.test`),
    );
  }
  if (schema.format === 'uuid') return uuid();
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern);
    return fc.stringMatching(pattern).filter((value) => value.length >= min && value.length <= max);
  }
  const short = Math.min(max, min + 30);
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: short }) },
    { weight: 1, arbitrary: fc.string({ minLength: min, maxLength: short, unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ minLength: max, maxLength: max }) },
  );
}

function validNumber(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? 1_000_000;
  const near = fc.integer({ min, max: Math.min(max, min + 100) });
  const anywhere = integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  return fc.oneof({ weight: 6, arbitrary: near }, { weight: 1, arbitrary: anywhere }, { weight: 1, arbitrary: fc.constantFrom(min, max) });
}

function schemaTypes(schema: Schema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  return [];
}

/** An arbitrary of values for a JSON Schema (the subset TypeBox writes), with hostile values mixed in when asked. */
export function fromSchema(schema: Schema | undefined, options: FromSchemaOptions, field = ''): fc.Arbitrary<unknown> {
  const valid = validFromSchema(schema ?? {}, options, field);
  const hint = field ? options.hints(field) : undefined;
  const meaningful = hint ? fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: valid }) : valid;
  if (!options.hostile) return meaningful;
  return fc.oneof({ weight: 5, arbitrary: meaningful }, { weight: 1, arbitrary: hostileValue() });
}

function validFromSchema(schema: Schema, options: FromSchemaOptions, field: string): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (variants) return fc.oneof(...variants.map((variant) => validFromSchema(variant, options, field)));
  const types = schemaTypes(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => validFromSchema({ ...schema, type }, options, field)));
  switch (types[0]) {
    case 'string':
      return validString(schema);
    case 'integer':
      return validNumber(schema, true);
    case 'number':
      return validNumber(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items as Schema, options, field), { maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object':
      return objectFromSchema(schema, options);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectFromSchema(schema: Schema, options: FromSchemaOptions): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const names = Object.keys(properties);
  if (names.length === 0) {
    return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: Math.min(schema.maxProperties ?? 5, 5) });
  }
  const required = new Set<string>(schema.required ?? []);
  const record = fc.record(Object.fromEntries(names.map((name) => [name, fromSchema(properties[name], options, name)])), {
    requiredKeys: names.filter((name) => required.has(name)),
  }) as fc.Arbitrary<Record<string, unknown>>;
  if (!options.hostile) return record;
  // Missing required fields and unknown ones.
  return fc
    .tuple(
      record,
      fc.subarray(names, { maxLength: Math.min(2, names.length) }),
      fc.dictionary(fc.constantFrom('extra', 'role', 'id', 'ownerId', '__proto__', 'constructor', 'isAdmin'), hostileValue(), {
        maxKeys: 2,
      }),
    )
    .map(([value, drop, extra]) => {
      const copy: Record<string, unknown> = { ...value };
      for (const name of drop) delete copy[name];
      for (const [name, fieldValue] of Object.entries(extra))
        Object.defineProperty(copy, name, { value: fieldValue, enumerable: true, writable: true, configurable: true });
      return copy;
    });
}
