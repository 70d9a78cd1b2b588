// `npm run bench -- --only links`: the CPU a gallery page's signed links cost
// each storage driver, as photos.service asks for them (one signedUrls call of
// 24 originals, expiring at the end of the next full hour). First views sign
// every link; later views in the same hour get the links remembered for that
// hour (src/platform/storage/links-by-the-hour.ts, decision 0062). Before that
// decision every view of the S3 driver was a first view. The S3 driver
// presigns with the AWS SDK, which needs no server for it: the endpoint is
// never called. Each driver is warmed up on keys of its own first, and the
// drivers' clock is pinned inside one hour, so that no pass crosses one.
// The photo viewer's download link (one link with a download name per view)
// is measured the same way: remembered too since decision 0064.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fmt, root, tempDir } from './lib.mjs';

const LINKS_PER_PAGE = 24;
const PAGES = 200;
const HOUR_MS = 3_600_000;

export async function signedLinksSection(ctx) {
  ctx.log(
    `\n== links: a gallery page's ${LINKS_PER_PAGE} signed links (photos' lifetime), ${PAGES} pages of new keys, then the same pages again`,
  );
  const load = (file) => import(path.join(root, 'dist/src', file));
  const [{ createS3Storage }, { createFileStorage }, { createKeyring }, { signedUrlLifetimeSeconds }] = await Promise.all([
    load('platform/storage/s3-storage.js'),
    load('platform/storage/file-storage.js'),
    load('platform/security/keyring.js'),
    load('features/photos/photos.service.js'),
  ]);
  const clock = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + 10 * 60_000;
  const now = () => clock;
  const lifetime = { expiresInSeconds: signedUrlLifetimeSeconds(clock) };
  // Placeholders for the SDK's credential chain while the section runs; nothing is sent anywhere.
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIABENCHPLACEHOLDER';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench-placeholder-secret';
  const fileRoot = tempDir('links');
  const drivers = {
    file: createFileStorage({ root: fileRoot, publicUrl: new URL('http://127.0.0.1'), keyring: createKeyring([ctx.SECRET_KEY]), now }),
    s3: createS3Storage({
      bucket: 'bench',
      prefix: '',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      cdnBaseUrl: undefined,
      now,
    }),
  };
  const newKeys = () => Array.from({ length: PAGES * LINKS_PER_PAGE }, () => `originals/2026/12/${crypto.randomUUID()}.jpg`);
  /** ms of CPU per view of `views` views, `sign(view)` signing each view's links. */
  const cpuPerView = async (sign) => {
    const started = process.cpuUsage();
    for (let view = 0; view < PAGES; view++) await sign(view);
    const used = process.cpuUsage(started);
    return (used.user + used.system) / 1000 / PAGES;
  };
  const galleryPages = (storage, keys) => (page) =>
    storage.signedUrls(keys.slice(page * LINKS_PER_PAGE, (page + 1) * LINKS_PER_PAGE), lifetime);
  const downloads = (storage, keys) => (view) => storage.signedUrl(keys[view], { ...lifetime, downloadName: `party-${view}.jpg` });
  try {
    for (const [name, storage] of Object.entries(drivers)) {
      for (const [what, views] of [
        ['signed links of a gallery page', galleryPages],
        ["photo viewer's download link", downloads],
      ]) {
        await cpuPerView(views(storage, newKeys()));
        const keys = newKeys();
        const first = await cpuPerView(views(storage, keys));
        const later = await cpuPerView(views(storage, keys));
        ctx.figure(`${what}, ${name} driver, first views`, fmt(first, 3), 'ms CPU/view');
        ctx.figure(`${what}, ${name} driver, later views`, fmt(later, 3), 'ms CPU/view', `${fmt(first / later, 0)}x less`);
      }
      await storage.close();
    }
  } finally {
    for (const [name, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
    ])
      if (value === undefined) delete process.env[name];
    fs.rmSync(fileRoot, { recursive: true, force: true });
  }
}
