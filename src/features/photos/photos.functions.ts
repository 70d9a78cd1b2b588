import crypto from 'node:crypto';
import exifr from 'exifr';
import { Type } from 'typebox';
import sharp, { type Metadata } from 'sharp';
import type { EpuFunction } from '../../platform/functions/cloud-event.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { Queue } from '../../platform/queue/index.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import { PRIVATE_IMMUTABLE } from '../../platform/http/cache-control.js';
import { type ImageType, pixelLimitProblem } from './image-check.js';
import { withoutLocation } from './location.js';
import type { PhotosRepository } from './photos.repository.js';
import type { PhotoUploadedData } from './photos.service.js';

export const PROCESS_PHOTO_JOB = 'photos.process';
export const ProcessPhotoPayload = Type.Object({ photoId: Type.String() }, { additionalProperties: false });

/** The data of a storage "object finalized" CloudEvent (GCS), reduced to what is used. */
export interface StorageObjectData {
  bucket?: string;
  name: string;
}
export const PROCESS_PHOTO_ATTEMPTS = 3;

export async function readObject(storage: ObjectStorage, key: string): Promise<Buffer | null> {
  const object = await storage.get(key);
  if (!object) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** EXIF orientations 5-8 turn the picture a quarter: the shown width is the stored height. */
export function orientedSize(width: number, height: number, orientation: number | undefined): { width: number; height: number } {
  return orientation && orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * The `photoUploaded` function, triggered by each stored original (a
 * storage-finalized CloudEvent): removes the original's location metadata
 * (location.ts) unless its uploader chose to share it, reads its metadata (dimensions, orientation, EXIF time
 * taken, type, size, sha256), writes it to the photo row and enqueues the
 * processing job. Safe to run twice: a second run finds no location left.
 */
export function createPhotoUploadedFunction(deps: {
  repo: PhotosRepository;
  storage: ObjectStorage;
  queue: Queue<{ [PROCESS_PHOTO_JOB]: typeof ProcessPhotoPayload }>;
  logger: Logger;
  /** MAX_IMAGE_PIXELS: the upload refuses what it sees early enough; this catches the rest before any decoding. */
  maxImagePixels: number;
}): EpuFunction<PhotoUploadedData | StorageObjectData> {
  return async (event) => {
    const data = event.data;
    if (!data || typeof data !== 'object') {
      deps.logger.error({ eventId: event.id }, 'photoUploaded: malformed event dropped');
      return;
    }
    // EPU's own event names the photo; a bucket's finalize event (Eventarc, S3 notification) names the object.
    const photo =
      'photoId' in data && typeof data.photoId === 'string'
        ? await deps.repo.findById(data.photoId)
        : 'name' in data && typeof data.name === 'string' && data.name.startsWith('originals/')
          ? await deps.repo.findByOriginalKey(data.name)
          : undefined;
    if (!photo || photo.status !== 'processing') return; // deleted meanwhile, or already settled
    const uploaded = await readObject(deps.storage, photo.original_key);
    if (!uploaded) {
      await deps.repo.markFailed(photo.id, 'the uploaded file is missing from storage');
      return;
    }
    // Where it was taken never leaves the uploader unless they chose to share it: the stored original loses its
    // position (picture untouched) before anyone but its uploader can see the photo (it is still processing).
    const withoutPosition = photo.location_shared ? null : withoutLocation(photo.content_type as ImageType, uploaded);
    if (withoutPosition) {
      await deps.storage.put(photo.original_key, withoutPosition, { contentType: photo.content_type, cacheControl: PRIVATE_IMMUTABLE });
    }
    const bytes = withoutPosition ?? uploaded;
    let metadata: Metadata;
    try {
      metadata = await sharp(bytes).metadata();
    } catch (error) {
      await deps.repo.markFailed(photo.id, `not a readable image: ${(error as Error).message}`);
      return;
    }
    const tooLarge = pixelLimitProblem({ width: metadata.width ?? 0, height: metadata.height ?? 0 }, deps.maxImagePixels);
    if (tooLarge) {
      await deps.repo.markFailed(photo.id, tooLarge);
      return;
    }
    const exif = await exifr.parse(bytes, { pick: ['DateTimeOriginal', 'CreateDate'] }).catch(() => null);
    const takenAt = exif?.DateTimeOriginal ?? exif?.CreateDate;
    const size = orientedSize(metadata.width ?? 0, metadata.height ?? 0, metadata.orientation);
    await deps.repo.setMetadata(photo.id, {
      width: size.width,
      height: size.height,
      orientation: metadata.orientation ?? null,
      takenAt: takenAt instanceof Date && !Number.isNaN(takenAt.getTime()) ? takenAt : null,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      contentType: photo.content_type,
    });
    await deps.queue.enqueue(
      PROCESS_PHOTO_JOB,
      { photoId: photo.id },
      { key: `photo:${photo.id}:process`, maxAttempts: PROCESS_PHOTO_ATTEMPTS },
    );
  };
}
