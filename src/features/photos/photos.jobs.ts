import crypto from 'node:crypto';
import sharp from 'sharp';
import type { Static } from 'typebox';
import type { JobHandler } from '../../platform/queue/index.js';
import { PRIVATE_IMMUTABLE } from '../../platform/http/cache-control.js';
import type { ContentChanges } from '../../platform/http/public-pages.js';
import { EVENT_PAGES } from '../events/events.service.js';
import type { Logger } from '../../platform/observability/logger.js';
import { newObjectKey, type ObjectStorage } from '../../platform/storage/storage.js';
import type { PhotosRepository } from './photos.repository.js';
import { PROCESS_PHOTO_ATTEMPTS, readObject, type ProcessPhotoPayload } from './photos.functions.js';
import { deleteObjects } from './photos.service.js';
import { RENDITIONS, type RenditionName } from './renditions.js';
import type { ImageType } from './image-check.js';
import { withoutLocation } from './location.js';

/** A decode failure will not get better with retries. */
class UnreadableImageError extends Error {}

async function render(original: Buffer, rendition: RenditionName): Promise<Buffer> {
  const box = RENDITIONS[rendition];
  try {
    // rotate() applies the EXIF orientation; sharp writes no metadata (EXIF, GPS, ICC comments) unless asked.
    // 'inside': the whole picture at its own shape, never cropped (renditions.ts says why these boxes).
    return await sharp(original, { failOn: 'error' })
      .rotate()
      .resize(box.width, box.height, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
  } catch (error) {
    throw new UnreadableImageError(`the image could not be decoded: ${(error as Error).message}`);
  }
}

/** The thumbnail and the display image of an original, as the gallery shows them (the scrub renders its placeholders' too). */
export async function renderRenditions(
  original: Buffer,
): Promise<{ thumbnail: Buffer; display: Buffer; contentType: 'image/webp'; cacheControl: string }> {
  return {
    thumbnail: await render(original, 'thumbnail'),
    display: await render(original, 'display'),
    contentType: 'image/webp',
    cacheControl: PRIVATE_IMMUTABLE,
  };
}

/**
 * `photos.process`: renders the thumbnail and the display image (renditions.ts)
 * as WebP, auto-oriented and without metadata, then marks the photo ready.
 * Idempotent: a photo that is no longer processing is left alone. After the
 * last attempt, or at once for an undecodable image, the photo fails with a reason.
 */
export function processPhotoJob(deps: {
  repo: PhotosRepository;
  storage: ObjectStorage;
  logger: Logger;
  pages: ContentChanges;
}): JobHandler<Static<typeof ProcessPhotoPayload>> {
  return async (job) => {
    const { photoId } = job.payload;
    const photo = await deps.repo.findById(photoId);
    if (!photo || photo.status !== 'processing') return;
    try {
      const original = await readObject(deps.storage, photo.original_key);
      if (!original) throw new UnreadableImageError('the uploaded file is missing from storage');
      const { thumbnail, display } = await renderRenditions(original);
      const thumbnailKey = newObjectKey('derived', 'webp');
      const displayKey = newObjectKey('derived', 'webp');
      await deps.storage.put(thumbnailKey, thumbnail, { contentType: 'image/webp', cacheControl: PRIVATE_IMMUTABLE });
      await deps.storage.put(displayKey, display, { contentType: 'image/webp', cacheControl: PRIVATE_IMMUTABLE });
      const ready = await deps.repo.markReady(photo.id, { thumbnailKey, displayKey });
      if (!ready) await deleteObjects(deps.storage, [thumbnailKey, displayKey]);
      else deps.pages.announce(EVENT_PAGES.event(photo.event_id)); // it joins the event's gallery
    } catch (error) {
      const permanent = error instanceof UnreadableImageError;
      if (permanent || job.attempt >= PROCESS_PHOTO_ATTEMPTS) {
        deps.logger.warn({ photoId, attempt: job.attempt, err: error }, 'photo processing failed for good');
        await deps.repo.markFailed(photo.id, (error as Error).message);
        return;
      }
      throw error;
    }
  };
}

export const REMOVE_LOCATION_JOB = 'photos.remove-location';
const SWEEP_BATCH = 100;

/**
 * `photos.remove-location`, run once after upgrading (`epu jobs run
 * photos.remove-location`): removes the location from originals stored before
 * photoUploaded did (decision 0033), keeping their digest and size right.
 * Rerunning finds nothing to change. A photo deleted while its original is
 * rewritten may leave that object behind, which the integrity check reports.
 */
export function removeLocationJob(deps: { repo: PhotosRepository; storage: ObjectStorage; logger: Logger }): JobHandler {
  return async (_job, signal) => {
    let checked = 0;
    let cleaned = 0;
    let after: string | null = null;
    for (;;) {
      const batch = await deps.repo.listOriginals(after, SWEEP_BATCH);
      for (const photo of batch) {
        signal.throwIfAborted();
        checked++;
        const original = await readObject(deps.storage, photo.original_key);
        const withoutPosition = original && withoutLocation(photo.content_type as ImageType, original);
        if (!withoutPosition) continue;
        await deps.storage.put(photo.original_key, withoutPosition, { contentType: photo.content_type, cacheControl: PRIVATE_IMMUTABLE });
        await deps.repo.setOriginalDigest(
          photo.id,
          crypto.createHash('sha256').update(withoutPosition).digest('hex'),
          withoutPosition.length,
        );
        cleaned++;
      }
      if (batch.length < SWEEP_BATCH) break;
      after = batch.at(-1)!.id;
    }
    deps.logger.info({ checked, cleaned }, 'location removed from stored originals');
    return { checked, cleaned };
  };
}
