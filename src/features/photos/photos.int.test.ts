import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { jpegWithExif, multipart, png } from '../../../tests/support/images.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';

type Driver = 'file' | 's3';

async function storedKeys(t: TestApp, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of t.platform.storage.list(prefix)) keys.push(object.key);
  return keys;
}

async function upload(client: Client, eventId: string, files: [string, string, string, Buffer][]) {
  const { body, contentType } = multipart(files);
  return client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
}

/** Lists the entries of a zip with Python's zipfile (a reader independent of the writer), returning name → bytes. */
function readZip(bytes: Buffer): Map<string, Buffer> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'epu-zip-')), 'export.zip');
  fs.writeFileSync(file, bytes);
  const listing = execFileSync('python3', [
    '-c',
    'import sys,zipfile,json,base64\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: base64.b64encode(z.read(n)).decode() for n in z.namelist()}))',
    file,
  ]);
  return new Map(
    Object.entries(JSON.parse(listing.toString()) as Record<string, string>).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]),
  );
}

for (const driver of ['file', 's3'] as Driver[]) {
  describe(`photos and exports with ${driver} storage`, () => {
    let t: TestApp;
    let s3: TestS3 | undefined;
    let worker: ReturnType<typeof startTestWorker>;
    let owner: Awaited<ReturnType<typeof signUp>>;
    let attendee: Awaited<ReturnType<typeof signUp>>;
    let eventId: string;

    beforeAll(async () => {
      let env: Record<string, string> = { MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) };
      if (driver === 's3') {
        s3 = await startS3rver();
        vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
        env = { ...env, ...s3.env };
      }
      t = await startTestApp(env);
      worker = startTestWorker(t);
      owner = await signUp(t.url, { name: 'Host' });
      attendee = await signUp(t.url, { name: 'Guest' });
      eventId = (
        await owner.client.post('/api/v1/events', { title: 'Photo party', startsAt: futureIso(), capacity: 10, visibility: 'public' })
      ).body.id;
      expect((await attendee.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    });
    afterAll(async () => {
      await worker?.stop({ graceMs: 1000 });
      await t?.close();
      await s3?.close();
      vi.unstubAllEnvs();
    });

    it('takes an upload from an attendee (202 processing), reads its metadata in the function, and makes thumbnails without metadata', async () => {
      const original = await jpegWithExif(1200, 800);
      const response = await upload(attendee.client, eventId, [['file', 'holiday.jpg', 'image/jpeg', original]]);
      expect(response.status).toBe(202);
      expect(response.body.photo).toMatchObject({ status: 'processing', eventId, thumbnailUrl: null, url: null });
      const id = response.body.photo.id;

      const photo = await eventually(
        async () => {
          const read = await attendee.client.get(`/api/v1/photos/${id}`);
          return read.body.status === 'ready' ? read.body : undefined;
        },
        30_000,
        'the photo to be ready',
      );
      expect(photo).toMatchObject({
        id,
        eventId,
        width: 1200,
        height: 800,
        bytes: original.length,
        contentType: 'image/jpeg',
        takenAt: '2024-05-06T07:08:09.000Z',
      });
      expect(photo.thumbnailUrl).toMatch(/^https?:\/\//);
      expect(photo.url).toMatch(/^https?:\/\//);

      const thumbnail = await fetch(photo.thumbnailUrl);
      expect(thumbnail.status).toBe(200);
      const thumbBytes = Buffer.from(await thumbnail.arrayBuffer());
      const meta = await sharp(thumbBytes).metadata();
      expect(meta.format).toBe('webp');
      // The whole photo at its shape, 520 px high (sharp at 2x in the gallery's rows; renditions.ts).
      expect([meta.width, meta.height]).toEqual([780, 520]);
      expect(meta.exif).toBeUndefined();

      // The original as uploaded, picture for picture, less where it was taken (photos.privacy.int.test.ts).
      const fetched = Buffer.from(await (await fetch(photo.url)).arrayBuffer());
      expect(fetched.length).toBe(original.length);
      expect((await sharp(fetched).raw().toBuffer()).equals(await sharp(original).raw().toBuffer())).toBe(true);

      const row = await t.platform.pool.query('SELECT sha256, original_key FROM photos WHERE id = $1', [id]);
      expect(row.rows[0].sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row.rows[0].original_key).toMatch(/^originals\/\d{4}\/\d{2}\/[0-9a-f-]{36}\.jpg$/);
    });

    it('lists the gallery newest first with keyset pagination, and the host can delete a photo with its files', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await upload(owner.client, eventId, [['file', `p${i}.png`, 'image/png', await png(100 + i, 80)]])).body.photo.id);
      await eventually(
        async () => {
          const { rows } = await t.platform.pool.query(`SELECT count(*)::int AS n FROM photos WHERE id = ANY($1) AND status = 'ready'`, [
            ids,
          ]);
          return rows[0].n === 3 ? true : undefined;
        },
        30_000,
        'three ready photos',
      );
      const first = await new Client(t.url).get(`/api/v1/events/${eventId}/photos?limit=2`);
      expect(first.status).toBe(200);
      expect(first.body.items.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
      const second = await new Client(t.url).get(`/api/v1/events/${eventId}/photos?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body.items[0].id).toBe(ids[0]);
      // A gallery reads fewer columns than a single photo (its event and status are the query's own): the same photo either way.
      // Links are compared without their signatures: an S3 link carries the second it was signed in.
      const unsigned = (photo: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(photo).map(([field, value]) => [field, /Url$|^url$/.test(field) ? String(value).split('?')[0] : value]),
        );
      for (const item of [...first.body.items, ...second.body.items]) {
        expect(item).toMatchObject({ eventId, status: 'ready', failureReason: null });
        expect(unsigned(item)).toEqual(unsigned((await new Client(t.url).get(`/api/v1/photos/${item.id}`)).body));
      }

      const stranger = await signUp(t.url);
      expect((await stranger.client.delete(`/api/v1/photos/${ids[0]}`)).status).toBe(403);
      expect((await attendee.client.delete(`/api/v1/photos/${ids[0]}`)).status).toBe(403);
      const { rows } = await t.platform.pool.query('SELECT original_key, thumbnail_key, display_key FROM photos WHERE id = $1', [ids[0]]);
      expect((await owner.client.delete(`/api/v1/photos/${ids[0]}`)).status).toBe(204);
      expect((await owner.client.get(`/api/v1/photos/${ids[0]}`)).status).toBe(404);
      for (const key of Object.values<string>(rows[0])) expect(await t.platform.storage.head(key)).toBeNull();
    });

    it('refuses bad uploads with a stable code and leaves no object and no row behind', async () => {
      const jpeg = await jpegWithExif(400, 300);
      const photosBefore = (await t.platform.pool.query('SELECT count(*)::int AS n FROM photos')).rows[0].n;
      const objectsBefore = (await storedKeys(t, 'originals/')).length;
      const cases: [string, [string, string, string, Buffer][], number, string][] = [
        [
          'an SVG',
          [['file', 'x.svg', 'image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')]],
          415,
          'unsupported_type',
        ],
        [
          'a text file named .jpg',
          [['file', 'photo.jpg', 'image/jpeg', Buffer.from('this is not a picture at all, just words in a file\n'.repeat(200))]],
          415,
          'unsupported_type',
        ],
        ['a truncated JPEG', [['file', 'cut.jpg', 'image/jpeg', jpeg.subarray(0, Math.floor(jpeg.length / 2))]], 415, 'unsupported_type'],
        ['a zero-byte file', [['file', 'empty.jpg', 'image/jpeg', Buffer.alloc(0)]], 400, 'validation_failed'],
        [
          'two files in one field',
          [
            ['file', 'a.jpg', 'image/jpeg', jpeg],
            ['file', 'b.jpg', 'image/jpeg', jpeg],
          ],
          400,
          'validation_failed',
        ],
        ['a file in another field', [['picture', 'a.jpg', 'image/jpeg', jpeg]], 400, 'validation_failed'],
        [
          'a file over MAX_UPLOAD_BYTES',
          [['file', 'huge.png', 'image/png', Buffer.concat([await png(10, 10), Buffer.alloc(3 * 1024 * 1024)])]],
          413,
          'too_large',
        ],
      ];
      for (const [label, files, status, code] of cases) {
        const response = await upload(attendee.client, eventId, files);
        expect(response.status, label).toBe(status);
        expect(response.body.error.code, label).toBe(code);
        // A refused body may still be arriving: the connection closes after the answer (decision 0017).
        expect(response.headers.get('connection'), label).toBe(status === 413 || status === 415 ? 'close' : 'keep-alive');
      }
      const noFile = await attendee.client.request('POST', `/api/v1/events/${eventId}/photos`, { json: { file: 'x' } });
      expect(noFile.status).toBe(415);
      expect(noFile.headers.get('connection')).toBe('close');
      // The page's form reads a batch to its end (the next file may be fine), and names the file it refused.
      const { body, contentType } = multipart([
        ['file', 'huge.png', 'image/png', Buffer.concat([await png(10, 10), Buffer.alloc(3 * 1024 * 1024)])],
      ]);
      const fromForm = await attendee.client.request('POST', `/events/${eventId}/photos`, {
        body,
        headers: { 'content-type': contentType, accept: 'text/html' },
      });
      expect(fromForm.status).toBe(413);
      expect(fromForm.text).toMatch(/<strong>huge\.png<\/strong>: The file is larger than \d+ MiB\./);
      expect((await t.platform.pool.query('SELECT count(*)::int AS n FROM photos')).rows[0].n).toBe(photosBefore);
      expect((await storedKeys(t, 'originals/')).length).toBe(objectsBefore);
    });

    it('refuses a multipart body anywhere but the upload routes (415 unsupported_type), and stores nothing', async () => {
      const { body, contentType } = multipart([['file', 'a.png', 'image/png', await png(20, 20)]], {
        title: 'Sent as a form with a file',
        startsAt: futureIso(),
        capacity: '5',
        visibility: 'public',
      });
      const counts = async () =>
        (
          await t.platform.pool.query(
            'SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM photos)::int AS photos, (SELECT count(*) FROM bookings)::int AS bookings',
          )
        ).rows[0];
      const before = await counts();
      for (const [path, accept] of [
        ['/api/v1/events', 'application/json'],
        ['/events', 'text/html'],
        [`/api/v1/events/${eventId}/bookings`, 'application/json'],
      ] as const) {
        const response = await owner.client.request('POST', path, { body, headers: { 'content-type': contentType, accept } });
        expect(response.status, path).toBe(415);
        if (accept === 'application/json') expect(response.body.error.code, path).toBe('unsupported_type');
        else expect(response.text, path).toContain('That did not work');
      }
      expect(await counts()).toEqual(before);
    });

    it('removes the files of an event’s photos when the event is deleted', async () => {
      const party = (
        await owner.client.post('/api/v1/events', { title: 'Short-lived', startsAt: futureIso(), capacity: null, visibility: 'public' })
      ).body.id;
      const photoId = (await upload(owner.client, party, [['file', 'x.png', 'image/png', await png(40, 40)]])).body.photo.id;
      await eventually(
        async () => ((await owner.client.get(`/api/v1/photos/${photoId}`)).body.status === 'ready' ? true : undefined),
        30_000,
        'the photo',
      );
      const { rows } = await t.platform.pool.query('SELECT original_key, thumbnail_key, display_key FROM photos WHERE id = $1', [photoId]);
      expect((await owner.client.delete(`/api/v1/events/${party}`)).status).toBe(204);
      for (const key of Object.values<string>(rows[0])) expect(await t.platform.storage.head(key)).toBeNull();
    });

    it('limits uploads per user (429 with retry-after), without affecting other users', async () => {
      const limited = await startTestApp({ UPLOAD_RATE_LIMIT: '3', ...(s3 ? s3.env : {}) });
      try {
        const host = await signUp(limited.url);
        const party = (
          await host.client.post('/api/v1/events', { title: 'Limited', startsAt: futureIso(), capacity: null, visibility: 'public' })
        ).body.id;
        const image = await png(20, 20);
        for (let i = 0; i < 3; i++) expect((await upload(host.client, party, [['file', 'x.png', 'image/png', image]])).status).toBe(202);
        const refused = await upload(host.client, party, [['file', 'x.png', 'image/png', image]]);
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('rate_limited');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        const other = await signUp(limited.url);
        await other.client.post(`/api/v1/events/${party}/bookings`);
        expect((await upload(other.client, party, [['file', 'x.png', 'image/png', image]])).status).toBe(202);
      } finally {
        await limited.close();
      }
    });

    it('never builds a key from the file name (../ and non-ASCII are harmless)', async () => {
      const response = await upload(attendee.client, eventId, [['file', '../../etc/passwd ünï 写真.png', 'image/png', await png(50, 50)]]);
      expect(response.status).toBe(202);
      const { rows } = await t.platform.pool.query('SELECT original_key FROM photos WHERE id = $1', [response.body.photo.id]);
      expect(rows[0].original_key).toMatch(/^originals\/\d{4}\/\d{2}\/[0-9a-f-]{36}\.png$/);
    });

    it('lets only the host, an admin or an attendee upload: others get 403, strangers to a private event 404', async () => {
      const stranger = await signUp(t.url);
      const image = await png(20, 20);
      const refused = await upload(stranger.client, eventId, [['file', 'x.png', 'image/png', image]]);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect((await upload(new Client(t.url), eventId, [['file', 'x.png', 'image/png', image]])).status).toBe(401);
      const hidden = (
        await owner.client.post('/api/v1/events', { title: 'Private', startsAt: futureIso(), capacity: null, visibility: 'private' })
      ).body.id;
      expect((await upload(stranger.client, hidden, [['file', 'x.png', 'image/png', image]])).status).toBe(404);
    });

    it('exports an event as a zip of event.json, bookings.csv and the originals; only the requester (or an admin) sees it', async () => {
      const original = await png(64, 64);
      const photoId = (await upload(owner.client, eventId, [['file', 'keep.png', 'image/png', original]])).body.photo.id;
      expect((await attendee.client.post(`/api/v1/events/${eventId}/exports`)).status).toBe(403);
      const requested = await owner.client.post(`/api/v1/events/${eventId}/exports`);
      expect(requested.status).toBe(202);
      expect(requested.body.export).toMatchObject({ status: 'queued', downloadUrl: null });
      const id = requested.body.export.id;
      const ready = await eventually(
        async () => {
          const read = await owner.client.get(`/api/v1/exports/${id}`);
          return read.body.export.status === 'ready' ? read.body.export : undefined;
        },
        30_000,
        'the export',
      );
      expect(ready.bytes).toBeGreaterThan(0);
      expect(Date.parse(ready.expiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);
      expect((await attendee.client.get(`/api/v1/exports/${id}`)).status).toBe(404);

      const download = await fetch(ready.downloadUrl);
      expect(download.status).toBe(200);
      const entries = readZip(Buffer.from(await download.arrayBuffer()));
      expect(JSON.parse(entries.get('event.json')!.toString()).id).toBe(eventId);
      const csv = entries.get('bookings.csv')!.toString();
      expect(csv.split('\r\n')[0]).toBe('booking_id,user_id,user_name,status,booked_at,cancelled_at');
      expect(csv).toContain(attendee.user.id);
      expect(entries.get(`photos/${photoId}.png`)!.equals(original)).toBe(true);

      const mine = await attendee.client.post('/api/v1/me/exports');
      expect(mine.status).toBe(202);
      const own = await eventually(
        async () => {
          const read = await attendee.client.get(`/api/v1/exports/${mine.body.export.id}`);
          return read.body.export.status === 'ready' ? read.body.export : undefined;
        },
        30_000,
        'the personal export',
      );
      const personal = readZip(Buffer.from(await (await fetch(own.downloadUrl)).arrayBuffer()));
      expect(JSON.parse(personal.get('account.json')!.toString()).user.email).toBe(attendee.email);
      expect([...personal.keys()]).toEqual(expect.arrayContaining(['account.json', 'bookings.csv', 'events.json']));
    });
  });
}
