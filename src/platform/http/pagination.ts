import { AppError } from './errors.js';
import { isoString } from '../iso-time.js';

export interface PageRequest {
  limit: number;
  cursor: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `limit` (1-100, default 20) and an opaque `cursor`, as every list in the API takes them. */
export function parsePageQuery(query: unknown, defaultLimit = 20): PageRequest {
  const { limit, cursor } = (query ?? {}) as Record<string, unknown>;
  let parsedLimit = defaultLimit;
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 100) {
      throw new AppError('validation_failed', 'limit must be a whole number from 1 to 100.', {
        details: [{ field: 'limit', problem: 'must be 1-100' }],
      });
    }
    parsedLimit = Number(limit);
  }
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length > 512)) throw new AppError('invalid_cursor');
  return { limit: parsedLimit, cursor: cursor === '' ? undefined : cursor };
}

/** Keyset cursors: the sort key of the last item, opaque to clients. */
export function encodeCursor(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** How encodeCursor writes a time (Date#toISOString of a four-digit year), and so all a cursor may hold. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The key of a cursor this API handed out. Anything else is invalid_cursor,
 * including times JavaScript parses and PostgreSQL does not ("1", "2/30/2030",
 * a year past 9999): the time must be one toISOString wrote, unchanged.
 */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string' && isUuid(key[1])) {
      const [time, id] = key as [string, string];
      if (CURSOR_TIME.test(time) && isoString(new Date(time)) === time) return [time, id];
    }
  } catch {
    // falls through to the error below
  }
  throw new AppError('invalid_cursor');
}

/** Fetch limit + 1 rows; the extra one only says whether there is a next page. */
export function toPage<Row, Item>(rows: Row[], limit: number, key: (row: Row) => [string, string], map: (row: Row) => Item): Page<Item> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return { items: pageRows.map(map), nextCursor: hasMore ? encodeCursor(key(pageRows.at(-1)!)) : null };
}

// Lower case only, as PostgreSQL prints them: the one spelling of an id, so every cache and
// page tag keyed by an id names one thing. Any other spelling is no id of ours (404).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
