import { Readable } from 'node:stream';
import type { Static } from 'typebox';
import yazl from 'yazl';
import { PRIVATE } from '../../platform/http/cache-control.js';
import type { JobHandler } from '../../platform/queue/index.js';
import type { Logger } from '../../platform/observability/logger.js';
import { newObjectKey, type ObjectStorage } from '../../platform/storage/storage.js';
import { type EventsService, toEventJson } from '../events/events.service.js';
import type { PhotosService } from '../photos/photos.service.js';
import type { ExportsRepository } from './exports.repository.js';
import { BUILD_EXPORT_ATTEMPTS, type BuildExportPayload } from './exports.service.js';

/** RFC 4180 quoting, and cells that a spreadsheet would run as a formula are defused. */
export function csvCell(value: unknown): string {
  let text =
    value instanceof Date
      ? value.toISOString()
      : value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : (value as string | number | boolean | bigint).toString();
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function addOriginals(zip: yazl.ZipFile, storage: ObjectStorage, originals: { name: string; key: string }[]): void {
  for (const original of originals) {
    // Opened one at a time as the zip is written: memory and connections stay flat.
    zip.addReadStreamLazy(`photos/${original.name}`, { compress: false }, (callback) => {
      storage.get(original.key).then(
        (object) => callback(null, object?.body ?? Readable.from([])),
        (error: Error) => callback(error, undefined as never),
      );
    });
  }
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value, null, 2) + '\n');

/**
 * `exports.build`: streams a zip into storage (event.json, bookings.csv and
 * photos/ with the originals; or the user's own data) and marks it ready with
 * an expiry. A rerun rebuilds it; a finished export is left alone.
 */
export function buildExportJob(deps: {
  repo: ExportsRepository;
  events: Pick<EventsService, 'findById' | 'listOwnedBy'>;
  photos: Pick<PhotosService, 'originals'>;
  storage: ObjectStorage;
  exportHours: number;
  logger: Logger;
}): JobHandler<Static<typeof BuildExportPayload>> {
  return async (job) => {
    const { exportId } = job.payload;
    const row = await deps.repo.findById(exportId);
    if (!row || row.status === 'ready' || row.status === 'failed') return;
    await deps.repo.markRunning(row.id);
    const zip = new yazl.ZipFile();
    try {
      if (row.event_id) {
        const event = await deps.events.findById(row.event_id);
        if (!event) throw new Error('the event no longer exists');
        zip.addBuffer(json(toEventJson(event)), 'event.json');
        const bookings = await deps.repo.eventBookings(event.id);
        zip.addBuffer(
          Buffer.from(
            toCsv(
              ['booking_id', 'user_id', 'user_name', 'status', 'booked_at', 'cancelled_at'],
              bookings.map((b) => [b.id, b.user_id, b.user_name, b.status, b.created_at, b.cancelled_at]),
            ),
          ),
          'bookings.csv',
        );
        addOriginals(zip, deps.storage, await deps.photos.originals({ eventId: event.id }));
      } else {
        const user = await deps.repo.user(row.requester_id!);
        if (!user) throw new Error('the account no longer exists');
        zip.addBuffer(
          json({ user: { id: user.id, email: user.email, name: user.name, role: user.role, createdAt: user.created_at } }),
          'account.json',
        );
        const bookings = await deps.repo.userBookings(user.id);
        zip.addBuffer(
          Buffer.from(
            toCsv(
              ['booking_id', 'event_id', 'event_title', 'event_starts_at', 'status', 'booked_at', 'cancelled_at'],
              bookings.map((b) => [b.id, b.event_id, b.event_title, b.event_starts_at, b.status, b.created_at, b.cancelled_at]),
            ),
          ),
          'bookings.csv',
        );
        zip.addBuffer(json((await deps.events.listOwnedBy(user.id, 10_000)).map(toEventJson)), 'events.json');
        addOriginals(zip, deps.storage, await deps.photos.originals({ uploaderId: user.id }));
      }
      zip.end();
      const key = newObjectKey('exports', 'zip');
      const stored = await deps.storage.put(key, zip.outputStream as Readable, { contentType: 'application/zip', cacheControl: PRIVATE });
      const expiresAt = new Date(Date.now() + deps.exportHours * 3_600_000);
      if (!(await deps.repo.markReady(row.id, key, stored.bytes, expiresAt))) await deps.storage.delete(key);
    } catch (error) {
      if (job.attempt >= BUILD_EXPORT_ATTEMPTS) {
        deps.logger.warn({ exportId, err: error }, 'export failed for good');
        await deps.repo.markFailed(row.id, (error as Error).message);
        return;
      }
      throw error;
    }
  };
}
