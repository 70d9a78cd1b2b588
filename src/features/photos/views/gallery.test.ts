import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicDir } from '../../../platform/paths.js';
import { downloadName } from '../photos.service.js';
import { renditionSize } from '../renditions.js';
import { ASPECT_BUCKETS, aspectBucket, bucketRatio, galleryPosition, photoAlt, ROW_GROWTH, ROW_HEIGHT } from './gallery.js';

const css = fs.readFileSync(path.join(publicDir, 'app.css'), 'utf8');

describe('gallery layout', () => {
  it('gives a tile the step nearest to its shape, within 2.5 %, and keeps beyond 4:1 at the last step, shown whole', () => {
    for (const [width, height] of [
      [1200, 800],
      [800, 1200],
      [1000, 1000],
      [4032, 3024],
      [1600, 900],
      [1000, 260],
    ]) {
      const { bucket, clamped } = aspectBucket(width!, height!);
      expect(clamped).toBe(false);
      expect(Math.abs(bucketRatio(bucket) / (width! / height!) - 1)).toBeLessThanOrEqual(0.025);
    }
    expect(aspectBucket(8000, 1000)).toEqual({ bucket: ASPECT_BUCKETS, clamped: true });
    expect(aspectBucket(300, 1500)).toEqual({ bucket: -ASPECT_BUCKETS, clamped: true });
  });

  it('has a rule in app.css for every step, with the ratio the server assumes, and the same row heights and growth', () => {
    const steps = new Map(
      [...css.matchAll(/\.gallery \[data-ar='(-?\d+)'\] \{\s*--ar: ([\d.]+);\s*\}/g)].map((m) => [Number(m[1]), Number(m[2])]),
    );
    expect([...steps.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 2 * ASPECT_BUCKETS + 1 }, (_, i) => i - ASPECT_BUCKETS));
    for (const [bucket, ratio] of steps) expect(ratio, `step ${bucket}`).toBeCloseTo(bucketRatio(bucket), 4);
    expect(css).toContain(`--row: ${ROW_HEIGHT.wide}px;`);
    expect(css).toContain(`--row: ${ROW_HEIGHT.narrow}px;`);
    expect(css).toContain(`calc(var(--ar) * var(--row) * ${ROW_GROWTH})`);
  });

  it('makes thumbnails with enough pixels for a tile at its tallest row on a 2x screen, and on a 3x phone', () => {
    for (const [width, height] of [
      [4032, 3024],
      [3024, 4032],
      [6000, 1500],
    ]) {
      const thumbnail = renditionSize(width!, height!, 'thumbnail');
      expect(thumbnail.height).toBeGreaterThanOrEqual(ROW_HEIGHT.wide * ROW_GROWTH * 2);
      expect(thumbnail.height).toBeGreaterThanOrEqual(ROW_HEIGHT.narrow * ROW_GROWTH * 3);
    }
    // A small original is never enlarged.
    expect(renditionSize(300, 200, 'thumbnail')).toEqual({ width: 300, height: 200 });
  });
});

describe('names', () => {
  const photo = { uploader: { id: 'u', name: 'Ana' }, takenAt: '2024-05-06T07:08:09.000Z', createdAt: '2026-01-02T03:04:05.000Z' };

  it('numbers photos in their alt text, with who added them and when they were taken', () => {
    expect(photoAlt(photo, 3)).toBe('Photo 3: by Ana, taken 6 May 2024, 07:08');
    expect(photoAlt({ ...photo, uploader: null, takenAt: null }, 4)).toBe('Photo 4, added 2 Jan 2026');
  });

  it('reads the "from" of a more link, and starts at 1 for anything else', () => {
    expect(galleryPosition('25')).toBe(25);
    for (const bad of [undefined, '', '0', '-3', '1e3', '99999999', 'constructor']) expect(galleryPosition(bad)).toBe(1);
  });

  it('names a download after the event and when the photo was taken', () => {
    const row = { taken_at: new Date(photo.takenAt), created_at: new Date(photo.createdAt), content_type: 'image/png' };
    expect(downloadName({ slug: 'garden-party-1a2b3c4d' }, row, true)).toBe('garden-party-20240506-070809.png');
    expect(downloadName({ slug: 'garden-party-1a2b3c4d' }, { ...row, taken_at: null }, false)).toBe('garden-party-20260102-030405.webp');
  });
});
