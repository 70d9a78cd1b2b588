import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { timestamptzParser } from './timestamps.js';

// pg's own parser (postgres-date), as pg-types registers it: the reference every answer is compared with.
const reference = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);
const fallbacks: string[] = [];
const parse = timestamptzParser((text) => {
  fallbacks.push(text);
  return reference(text);
});
// A Date as its instant (NaN when invalid: pg gives Invalid Date for some shapes), anything else as it is.
const iso = (value: unknown) => (value instanceof Date ? value.getTime() : value);

describe('timestamptzParser', () => {
  it("compares with pg's own parser (pool.ts has not registered this one in its place)", () => {
    expect(timestamptzParser(reference)).not.toBe(reference);
  });

  it('reads what PostgreSQL writes, in any session time zone, as pg does, without pg', () => {
    fallbacks.length = 0;
    const texts = [
      '2026-12-07 08:35:30.123456+00',
      '2026-12-07 08:35:30+00',
      '2026-03-01 00:00:00+01',
      '2025-07-04 23:59:59.5-05',
      '2025-07-04 23:59:59.999999+05:30',
      '2024-02-29 12:00:00.000001-09:30',
      '1970-01-01 00:00:00+00',
      '0100-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999-12',
    ];
    for (const text of texts) expect(iso(parse(text)), text).toEqual(iso(reference(text)));
    expect(fallbacks).toEqual([]);
  });

  it('agrees with pg on random instants and offsets', () => {
    fallbacks.length = 0;
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % below;
    };
    for (let i = 0; i < 2_000; i++) {
      const digits = random(7); // 0: no fraction; 1-6 digits otherwise
      const fraction = digits ? `.${pad(random(10 ** digits), digits)}` : '';
      const offset = `${random(2) ? '+' : '-'}${pad(random(15))}${random(2) ? `:${pad([0, 30, 45][random(3)]!)}` : ''}`;
      const text = `${pad(100 + random(9900), 4)}-${pad(1 + random(12))}-${pad(1 + random(28))} ${pad(random(24))}:${pad(random(60))}:${pad(random(60))}${fraction}${offset}`;
      expect(iso(parse(text)), text).toEqual(iso(reference(text)));
    }
    expect(fallbacks).toEqual([]);
  });

  it("leaves every other shape to pg's parser", () => {
    const others = [
      'infinity',
      '-infinity',
      '2026-12-07 08:35:30+00 BC',
      '0099-01-01 00:00:00+00',
      '12026-12-07 08:35:30+00',
      '1890-01-01 00:00:00+00:09:21',
      '2026-12-07 08:35:30.+00',
      '2026-12-07T08:35:30+00',
      '2026-12-07 08:35:30+0a',
      '2026-12-07 08:35:30',
      '2026-12-07',
    ];
    for (const text of others) {
      fallbacks.length = 0;
      expect(iso(parse(text)), text).toEqual(iso(reference(text)));
      expect(fallbacks, text).toEqual([text]);
    }
  });

  it('wraps only once when registered again', () => {
    expect(timestamptzParser(parse)).toBe(parse);
  });
});
