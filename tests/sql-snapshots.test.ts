// The compiled SQL of the hot queries, committed beside their repositories as
// `*.queries.sql`, so that a change to a query shows as SQL in review. Compiled
// by the PostgreSQL dialect without a database (support/sql-recorder.ts). A
// difference fails; `npm run sql:snapshots` writes the files anew (decision 0043).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createAccountsRepository } from '../src/features/accounts/accounts.repository.js';
import { createAuditRepository } from '../src/features/audit/audit.repository.js';
import { createBookingsRepository } from '../src/features/bookings/bookings.repository.js';
import { createEventsRepository } from '../src/features/events/events.repository.js';
import { createPhotosRepository } from '../src/features/photos/photos.repository.js';
import type { Database } from '../src/platform/db/schema.js';
import { createJobsRepository, type QueueDatabase } from '../src/platform/queue/jobs.repository.js';
import { createSqlRecorder } from './support/sql-recorder.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const app = createSqlRecorder<Database>();
const queue = createSqlRecorder<QueueDatabase>();

const EVENT = '00000000-0000-4000-8000-000000000001';
const USER = '00000000-0000-4000-8000-000000000002';
const SESSION = '00000000-0000-4000-8000-000000000003';
const PHOTO = '00000000-0000-4000-8000-000000000004';
const NOW = new Date('2026-12-05T00:00:00Z');
const CURSOR: [string, string] = [NOW.toISOString(), EVENT];

const events = createEventsRepository(app.db);
const photos = createPhotosRepository(app.db);
const accounts = createAccountsRepository(app.db);
const bookings = createBookingsRepository(app.db);
const audit = createAuditRepository(app.db);
const jobs = createJobsRepository(queue.db);

/** Each snapshot file: the queries it holds, by a name saying which method and which case. */
const SNAPSHOTS: Record<string, Record<string, () => Promise<string[]>>> = {
  'src/features/events/events.queries.sql': {
    'listUpcoming: a visitor, the first page': () => app.record(() => events.listUpcoming({ viewerId: null, limit: 20, now: NOW })),
    'listUpcoming: a visitor, a later page': () =>
      app.record(() => events.listUpcoming({ viewerId: null, limit: 20, now: NOW, after: CURSOR })),
    'listUpcoming: a signed-in user, a later page': () =>
      app.record(() => events.listUpcoming({ viewerId: USER, limit: 20, now: NOW, after: CURSOR })),
    'findById: the event page': () => app.record(() => events.findById(EVENT)),
  },
  'src/features/photos/photos.queries.sql': {
    'listReady: the gallery, the first page': () => app.record(() => photos.listReady(EVENT, 48)),
    'listReady: the gallery, a later page': () => app.record(() => photos.listReady(EVENT, 48, [NOW.toISOString(), PHOTO])),
    'findInViewer: one photo of the gallery': () => app.record(() => photos.findInViewer(EVENT, PHOTO)),
    'listReadyWithViewer: the gallery of a signed-in page of an event anyone with its link may see, its viewer and their booking': () =>
      app.record(() => photos.listReadyWithViewer(EVENT, 24, undefined, { sessionId: SESSION, userId: USER })),
  },
  'src/features/bookings/bookings.queries.sql': {
    'book: the booking statement (session check, place, booking, its audit row in one)': () =>
      app.record(() =>
        bookings.book(EVENT, { id: USER, checked: { sessionId: SESSION } }, (bookingId) => [
          {
            kind: 'audit',
            insertFrom: audit.insertFrom,
            values: audit.rowValues(PHOTO, {
              action: 'booking.create',
              actorId: USER,
              subjectType: 'booking',
              subjectId: bookingId,
              at: NOW.toISOString(),
              requestId: null,
            }),
            written: () => {},
          },
        ]),
      ),
  },
  'src/features/accounts/accounts.queries.sql': {
    'findSessionUser: the session lookup of every signed-in request': () => app.record(() => accounts.findSessionUser(SESSION, USER)),
  },
  'src/platform/queue/jobs.queries.sql': {
    'claim: a worker takes due jobs': () =>
      queue.record(() => jobs.claim({ workerId: 'worker-1', names: ['photos.process'], limit: 4, leaseSeconds: 30 })),
    'completeMany: a worker records the jobs that finished meanwhile, in one statement': () =>
      queue.record(() => jobs.completeMany('worker-1', [{ id: USER, attempt: 1 }])),
  },
};

/** The statement as written, without the indentation of the source it was written in. */
function dedent(text: string): string {
  const lines = text.trim().split('\n');
  const indents = lines
    .slice(1)
    .filter((line) => line.trim())
    .map((line) => line.match(/^ */)![0].length);
  const strip = Math.min(...indents);
  return lines.map((line, i) => (i === 0 ? line : line.slice(strip)).trimEnd()).join('\n');
}

describe('SQL snapshots of the hot queries', () => {
  it.each(Object.keys(SNAPSHOTS))('%s is current (npm run sql:snapshots writes it)', async (file) => {
    const sections: string[] = [];
    for (const [name, record] of Object.entries(SNAPSHOTS[file]!)) {
      const statements = await record();
      expect(statements.length, name).toBeGreaterThan(0);
      sections.push(`-- ${name}\n${statements.map((statement) => `${dedent(statement)};`).join('\n\n')}\n`);
    }
    const text = `-- Generated by tests/sql-snapshots.test.ts from the repository: do not edit by hand.\n-- Update with \`npm run sql:snapshots\`, and review the difference as SQL.\n\n${sections.join('\n')}`;
    await expect(text).toMatchFileSnapshot(path.join(root, file));
  });
});
