import { eventually, type TestApp } from './app.js';
import type { Client } from './client.js';
import { multipart, scenicJpeg } from './images.js';

/** Shapes a real gallery has: landscape and portrait phone photos, squares, panoramas, a very tall screenshot. */
export const SHAPES: [number, number][] = [
  [1200, 800],
  [800, 1200],
  [1000, 1000],
  [1600, 900],
  [2400, 300],
  [600, 900],
  [1200, 900],
  [300, 1500],
  [1500, 1000],
  [900, 1600],
];

/** Uploads `count` photos of varied shapes through the API and waits until the worker has made them ready; newest last. */
export async function seedGallery(t: TestApp, client: Client, eventId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const [width, height] = SHAPES[i % SHAPES.length]!;
    const minute = String(i % 60).padStart(2, '0');
    const bytes = await scenicJpeg(width, height, { hue: (i * 37) % 360, takenAt: `2024:05:06 18:${minute}:00` });
    const { body, contentType } = multipart([['file', `photo-${i}.jpg`, 'image/jpeg', bytes]]);
    const response = await client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
    if (response.status !== 202) throw new Error(`upload ${i} failed: ${response.status} ${response.text}`);
    ids.push(response.body.photo.id);
  }
  await eventually(
    async () => {
      const { rows } = await t.platform.pool.query(`SELECT count(*)::int AS n FROM photos WHERE id = ANY($1) AND status = 'ready'`, [ids]);
      return rows[0].n === ids.length ? true : undefined;
    },
    120_000,
    `${count} photos to be ready`,
  );
  return ids;
}
