import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, testEnv, type TestApp } from '../../../tests/support/app.js';
import { futureIso, signUp } from '../../../tests/support/client.js';
import { spawnEpu } from '../../../tests/support/process.js';
import { newObjectKey } from '../../platform/storage/storage.js';

const HOUR = 3_600_000;

describe('integrity checks', () => {
  let t: TestApp;
  let host: Awaited<ReturnType<typeof signUp>>;
  let eventId: string;
  let photo: { id: string; original: string; thumbnail: string; display: string };

  /** `epu check` as an operator runs it, on the same database and storage. */
  async function epuCheck() {
    const run = spawnEpu(['check'], testEnv(t.database, { EPU_DATA_DIR: t.config.dataDir }));
    const { code } = await run.exited;
    return { code, output: run.output() };
  }

  beforeAll(async () => {
    t = await startTestApp();
    host = await signUp(t.url, { name: 'Host' });
    const guest = await signUp(t.url, { name: 'Guest' });
    eventId = (await host.client.post('/api/v1/events', { title: 'Small room', startsAt: futureIso(), capacity: 1, visibility: 'public' }))
      .body.id;
    expect((await guest.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    // A ready photo with its three objects, as the upload and the thumbnail job leave it.
    photo = {
      id: '',
      original: newObjectKey('originals', 'jpg'),
      thumbnail: newObjectKey('derived', 'webp'),
      display: newObjectKey('derived', 'webp'),
    };
    for (const key of [photo.original, photo.thumbnail, photo.display])
      await t.platform.storage.put(key, Buffer.from('image bytes'), { contentType: 'image/jpeg' });
    const { rows } = await sql<{
      id: string;
    }>`INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height, created_at, ready_at)
      VALUES (${eventId}, ${host.user.id}, 'ready', ${photo.original}, ${photo.thumbnail}, ${photo.display}, 'image/jpeg', 11, 10, 10, now() - interval '1 minute', now() - interval '1 minute')
      RETURNING id`.execute(t.platform.db);
    photo.id = rows[0]!.id;
    await t.services.stats.aggregate();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('passes on a consistent database, and `epu check` exits 0', async () => {
    const report = await t.services.integrity.run();
    expect(Object.values(report.checks).filter((c) => c.problems > 0)).toEqual([]);
    expect(report.ok).toBe(true);
    const { code, output } = await epuCheck();
    expect(output).toContain('all integrity checks passed');
    expect(code).toBe(0);
  });

  it('catches an object deleted and a booking over capacity inserted behind the application, and `epu check` exits 1', async () => {
    await t.platform.storage.delete(photo.thumbnail);
    const intruder = await signUp(t.url, { name: 'Intruder' });
    await sql`INSERT INTO bookings (event_id, user_id, status) VALUES (${eventId}, ${intruder.user.id}, 'confirmed')`.execute(
      t.platform.db,
    );

    const report = await t.services.integrity.run();
    expect(report.ok).toBe(false);
    expect(report.checks.missing_objects).toEqual({ problems: 1, samples: [`photo ${photo.id}: thumbnail ${photo.thumbnail} is missing`] });
    expect(report.checks.over_capacity).toEqual({ problems: 1, samples: [`event ${eventId}: 2 confirmed bookings, capacity 1`] });
    // The booking holds no place either: the place rows disagree with the bookings.
    expect(report.checks.event_places.problems).toBe(1);
    expect(report.checks.event_places.samples[0]).toMatch(/: confirmed without a place at event /);
    expect(report.checks.orphan_objects.problems).toBe(0);
    expect(await t.services.integrity.latest()).toEqual(report);

    const { code, output } = await epuCheck();
    expect(code).toBe(1);
    expect(output).toMatch(/"check":"missing_objects","problems":1/);
    expect(output).toMatch(/"check":"over_capacity","problems":1/);
    expect(output).toMatch(/integrity problem\(s\) found in missing_objects, over_capacity, event_places/);
  });

  it.each([
    ['booked_counts', 'event_booking_counts', 'booked', '4, 2 confirmed bookings'],
    ['photo_counts', 'event_photo_counts', 'ready', '3, 1 ready photos'],
  ] as const)('reports a kept count that drifted from its rows: %s', async (check, table, column, says) => {
    expect((await t.services.integrity.run()).checks[check].problems).toBe(0);
    // One stripe of the event's count, changed behind the application.
    const stripe = sql`(event_id, stripe) = (SELECT event_id, stripe FROM ${sql.table(table)} WHERE event_id = ${eventId} LIMIT 1)`;
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${sql.ref(column)} + 2 WHERE ${stripe}`.execute(t.platform.db);
    const report = await t.services.integrity.run();
    expect(report.checks[check]).toEqual({ problems: 1, samples: [`event ${eventId}: count says ${says}`] });
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${sql.ref(column)} - 2 WHERE ${stripe}`.execute(t.platform.db);
  });

  it('reports objects no photo points to once they are older than the grace period', async () => {
    const stray = newObjectKey('originals', 'png');
    await t.platform.storage.put(stray, Buffer.from('stray'), { contentType: 'image/png' });
    expect((await t.services.integrity.run()).checks.orphan_objects.problems).toBe(0);
    const report = await t.services.integrity.run(new Date(Date.now() + 2 * HOUR));
    expect(report.checks.orphan_objects).toEqual({ problems: 1, samples: [`object ${stray}: no photo points to it`] });
  });

  it('reports stats that drift from the live counts, and sets the integrity metrics from the job', async () => {
    await t.services.stats.aggregate();
    await sql`UPDATE stats_totals SET users = users - 2`.execute(t.platform.db);
    const report = await t.services.integrity.run();
    expect(report.checks.stats_drift.problems).toBe(1);
    expect(report.checks.stats_drift.samples[0]).toBe('users: 3 live, but stats say 1 and only 0 were created since');

    const { createJobHandlers } = await import('../../app.js');
    const summary = await createJobHandlers(t.platform)['integrity.check'](
      { id: 'test', name: 'integrity.check', payload: {}, attempt: 1, trace: null },
      new AbortController().signal,
    );
    expect(summary).toMatchObject({ ok: false, stats_drift: 1, over_capacity: 1, missing_objects: 1 });
    const metrics = await t.platform.metrics.registry.metrics();
    expect(metrics).toMatch(/epu_integrity_problems\{[^}]*check="over_capacity"[^}]*\} 1/);
  });
});
