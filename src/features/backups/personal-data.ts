// THE list of what is personal in EPU's database, and what `epu scrub` does
// with it. Every column that can hold text (anything but numbers, booleans,
// dates and uuids) is named here once: in a dropped table, as personal (with
// its replacement), or as safe. A column named nowhere stops the scrub, and
// personal-data.int.test.ts fails as soon as a migration adds one: classify it
// here in the same change.
import pg from 'pg';
import { NOT_COPIED } from './backups.repository.js';

/** Column types that cannot carry a name, an address or free text. Everything else must be classified. */
const NON_TEXT_TYPES = new Set([
  'uuid',
  'smallint',
  'integer',
  'bigint',
  'real',
  'double precision',
  'numeric',
  'boolean',
  'date',
  'time without time zone',
  'time with time zone',
  'timestamp without time zone',
  'timestamp with time zone',
  'interval',
]);

/** Tables a scrubbed copy holds empty, and why. */
export const DROPPED_TABLES: Readonly<Record<string, string>> = {
  sessions: 'sign-ins of real people; staging users sign in afresh',
  rate_limits: 'keyed by email address and IP address',
  exports: 'archives of personal data; the rows point at them',
  event_invites: 'links into private events; hosts of a staging copy make their own',
  password_resets: 'links that set a password; staging users ask for their own',
  jobs: "payloads and errors name people, and production's queued work (mail, exports) must not run in staging",
};

const FIRST_NAMES = [
  'Alex',
  'Sam',
  'Robin',
  'Kim',
  'Jo',
  'Charlie',
  'Max',
  'Noa',
  'Eli',
  'Ari',
  'Sky',
  'Rene',
  'Toni',
  'Luca',
  'Yu',
  'Mika',
];
const LAST_NAMES = [
  'Archer',
  'Baker',
  'Carter',
  'Dale',
  'Ellis',
  'Fisher',
  'Gray',
  'Hale',
  'Irwin',
  'Jones',
  'Kerr',
  'Lane',
  'Moss',
  'Nash',
  'Owen',
  'Price',
];
const sqlArray = (values: readonly string[]) => `ARRAY[${values.map((value) => pg.escapeLiteral(value)).join(', ')}]`;

/** Audit metadata keys that hold ids, counts, flags and enum words only (see audit.types.ts); every other key is removed. */
export const AUDIT_METADATA_KEYS = [
  'eventId',
  'inviteId',
  'role',
  'via',
  'fields',
  'bookingsCancelled',
  'events',
  'photos',
  'exports',
  'created',
  'enabled',
  'rolloutPercentage',
  'previousEnabled',
  'previousRolloutPercentage',
  'state',
] as const;

/** Far from real addresses: `.invalid` is reserved (RFC 2606) and never delivers. */
export const SCRUBBED_EMAIL_DOMAIN = 'example.invalid';

/** Not an argon2 hash: verifying any password against it fails, so no scrubbed account can be signed into. */
export const UNUSABLE_PASSWORD_HASH = '!scrubbed: no password opens this account';

/**
 * Personal columns and their replacement, as SQL over the old row `t` and
 * `s.n`, the row's ordinal in its table (1, 2, 3... by primary key), which
 * makes replacements unique where the column must be.
 */
export const PERSONAL_COLUMNS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  users: {
    email: `'user' || s.n || '@${SCRUBBED_EMAIL_DOMAIN}'`,
    name: `(${sqlArray(FIRST_NAMES)})[1 + s.n % ${FIRST_NAMES.length}] || ' ' || (${sqlArray(LAST_NAMES)})[1 + s.n / ${FIRST_NAMES.length} % ${LAST_NAMES.length}]`,
    password_hash: pg.escapeLiteral(UNUSABLE_PASSWORD_HASH),
  },
  events: {
    // Slugs are made from titles.
    slug: `'event-' || s.n`,
    title: `'Event ' || s.n`,
    // Same length as the original, so pages lay out as they do in production.
    description: `left(repeat('Lorem ipsum dolor sit amet. ', length(t.description) / 28 + 1), length(t.description))`,
    venue: `CASE WHEN t.venue = '' THEN '' ELSE 'Venue ' || s.n END`,
  },
  audit_log: {
    // A caller may choose its own x-request-id.
    request_id: 'NULL',
    metadata: `(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) FROM jsonb_each(t.metadata) AS e WHERE e.key = ANY(${sqlArray(AUDIT_METADATA_KEYS)}))`,
  },
  photos: {
    // The original's hash identifies the picture; the scrub sets the placeholder's hash for every photo it replaces.
    sha256: 'NULL',
  },
};

/** Columns that hold no personal data, and why where it is not obvious. */
export const SAFE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  users: ['role'],
  // An IANA zone name (Europe/Paris): the event's, as public as its venue.
  events: ['visibility', 'time_zone'],
  bookings: ['status'],
  // Actions, subject kinds and subject ids (uuids, flag names).
  audit_log: ['action', 'subject_type', 'subject_id'],
  // Keys are random (newObjectKey); reasons are decoder messages.
  photos: ['status', 'original_key', 'thumbnail_key', 'display_key', 'content_type', 'failure_reason'],
  // Written by operators about the product, not by users.
  feature_flags: ['name', 'description', 'metadata'],
  job_schedules: ['name', 'cron'],
  // Table names, counts and checksums.
  backup_drills: ['backup_id', 'report'],
  // Problem samples name ids and object keys.
  integrity_runs: ['problems'],
};

export interface TextColumn {
  table: string;
  column: string;
  type: string;
}

/** Every column of the current schema's tables that could hold text (what the scrub must know about). */
export async function textColumns(client: pg.ClientBase): Promise<TextColumn[]> {
  const { rows } = await client.query<TextColumn>(
    `SELECT c.table_name::text AS "table", c.column_name::text AS "column", c.data_type::text AS type
     FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  return rows.filter((row) => !NON_TEXT_TYPES.has(row.type) && !NOT_COPIED.has(row.table));
}

/** The current schema's tables (a dropped table may hold no text column at all, like sessions). */
export async function tableNames(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  return rows.map((row) => row.name).filter((name) => !NOT_COPIED.has(name));
}

export function classification(table: string, column: string): 'dropped' | 'personal' | 'safe' | null {
  if (table in DROPPED_TABLES) return 'dropped';
  if (PERSONAL_COLUMNS[table]?.[column] !== undefined) return 'personal';
  if (SAFE_COLUMNS[table]?.includes(column)) return 'safe';
  return null;
}

/** Text columns named neither personal nor safe (nor in a dropped table): `table.column (type)`. */
export async function unclassifiedColumns(client: pg.ClientBase): Promise<string[]> {
  return (await textColumns(client))
    .filter((column) => classification(column.table, column.column) === null)
    .map((column) => `${column.table}.${column.column} (${column.type})`);
}

/**
 * The statements that scrub a restored copy in place, for the tables and
 * columns it has (an older backup may lack some), and the tables they write
 * to: run them in one transaction with those tables' user triggers off.
 */
export function scrubStatements(
  existingTables: string[],
  existingColumns: TextColumn[],
): { tables: string[]; steps: { table: string; what: string; sql: string }[] } {
  const present = new Set(existingColumns.map((column) => `${column.table}.${column.column}`));
  const tables = new Set(existingTables);
  const dropped = Object.keys(DROPPED_TABLES).filter((table) => tables.has(table));
  const steps = dropped.length
    ? [{ table: dropped.join(', '), what: 'emptied', sql: `TRUNCATE ${dropped.map((table) => pg.escapeIdentifier(table)).join(', ')}` }]
    : [];
  const written = [...dropped];
  for (const [table, columns] of Object.entries(PERSONAL_COLUMNS)) {
    const assignments = Object.entries(columns).filter(([column]) => present.has(`${table}.${column}`));
    if (!assignments.length) continue;
    const name = pg.escapeIdentifier(table);
    written.push(table);
    steps.push({
      table,
      what: `${assignments.map(([column]) => column).join(', ')} replaced`,
      sql: `UPDATE ${name} AS t SET ${assignments.map(([column, expression]) => `${pg.escapeIdentifier(column)} = ${expression}`).join(', ')}
            FROM (SELECT id, row_number() OVER (ORDER BY id)::int AS n FROM ${name}) AS s WHERE t.id = s.id`,
    });
  }
  return { tables: written.map((table) => pg.escapeIdentifier(table)), steps };
}
