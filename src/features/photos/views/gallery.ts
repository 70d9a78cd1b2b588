import { html, type SafeHtml } from '../../../platform/http/html.js';
import type { PhotoJson } from '../photos.service.js';
import { renditionSize } from '../renditions.js';
import { utcLabel } from '../../../ui/format.js';

// The gallery keeps each photo's shape: justified rows (public/app.css, "Gallery
// and photo viewer") where a tile's width follows its aspect ratio. The CSP
// allows no inline styles, so a tile carries its shape as a step: bucket k
// stands for an aspect ratio of 1.05^k, within 5 % of the photo's own (the
// picture covers the tile, so at most 2.5 % is trimmed). Shapes beyond 4:1 either
// way are kept at the last step and shown whole inside the tile.
export const ASPECT_STEP = 1.05;
export const ASPECT_BUCKETS = 28;
/** Row heights in CSS px (desktop, phone), and how far a row may grow to fill its width, as in public/app.css. */
export const ROW_HEIGHT = { wide: 200, narrow: 120 } as const;
export const ROW_GROWTH = 1.3;
/** Up to this viewport width the narrow rows apply (the CSS breakpoint). */
const NARROW_MAX_WIDTH = 560;

export function aspectBucket(width: number, height: number): { bucket: number; clamped: boolean } {
  const exact = Math.round(Math.log(width / height) / Math.log(ASPECT_STEP));
  const bucket = Math.max(-ASPECT_BUCKETS, Math.min(ASPECT_BUCKETS, exact));
  return { bucket, clamped: bucket !== exact };
}

export const bucketRatio = (bucket: number) => ASPECT_STEP ** bucket;

/** A camera's EXIF time has no zone: it is stored as if UTC, so showing it in UTC shows the camera's own clock. */
export function takenLabel(photo: Pick<PhotoJson, 'takenAt' | 'createdAt'>): string {
  return photo.takenAt ? `taken ${utcLabel(photo.takenAt, true)}` : `added ${utcLabel(photo.createdAt, false)}`;
}

/** Distinct for every photo of a gallery: its number, who added it and when it was taken. */
export function photoAlt(photo: Pick<PhotoJson, 'uploader' | 'takenAt' | 'createdAt'>, position: number): string {
  return `Photo ${position}${photo.uploader ? `: by ${photo.uploader.name},` : ','} ${takenLabel(photo)}`;
}

/** The `from` of a "more photos" link: a number from 1, anything else starts at 1. */
export function galleryPosition(value: string | undefined): number {
  return value && /^[1-9]\d{0,6}$/.test(value) ? Number(value) : 1;
}

export const viewerPath = (eventId: string, photoId: string) => `/events/${eventId}/photos/${photoId}`;

/** One tile: one link (one tab stop) to the photo's viewer, with a sharp picture at 1x, 2x and 3x. */
export function galleryTile(photo: PhotoJson, position: number): SafeHtml {
  const width = photo.width ?? 1;
  const height = photo.height ?? 1;
  const { bucket, clamped } = aspectBucket(width, height);
  const ratio = bucketRatio(bucket);
  const thumbnail = renditionSize(width, height, 'thumbnail');
  const display = renditionSize(width, height, 'display');
  const srcset = [`${photo.thumbnailUrl} ${thumbnail.width}w`];
  if (photo.displayUrl && display.width > thumbnail.width) srcset.push(`${photo.displayUrl} ${display.width}w`);
  // The widest the tile can get: the browser picks the smallest picture with enough pixels for it.
  const widest = (row: number) => Math.round(ratio * row * ROW_GROWTH);
  const sizes = `(max-width: ${NARROW_MAX_WIDTH}px) ${widest(ROW_HEIGHT.narrow)}px, ${widest(ROW_HEIGHT.wide)}px`;
  return html`<li id="photo-${photo.id}" data-ar="${bucket}" ${clamped ? html` data-fit="whole"` : ''}>
    <a href="${viewerPath(photo.eventId, photo.id)}"
      ><img
        src="${photo.thumbnailUrl ?? ''}"
        srcset="${srcset.join(', ')}"
        sizes="${sizes}"
        width="${thumbnail.width}"
        height="${thumbnail.height}"
        loading="lazy"
        decoding="async"
        alt="${photoAlt(photo, position)}"
    /></a>
  </li>`;
}

export function gallerySection(options: {
  eventId: string;
  photos: PhotoJson[];
  nextCursor: string | null;
  /** The number of the first photo shown (1 on the first page; the "more" link carries the next). */
  from?: number;
  canUpload: boolean;
  maxUploadMiB: number;
  uploadsEnabled: boolean;
}): SafeHtml {
  const { eventId } = options;
  const from = options.from ?? 1;
  return html`<section aria-labelledby="gallery" class="gallery-section" data-event-id="${eventId}">
    <h2 id="gallery">Photos</h2>
    ${
      options.canUpload && options.uploadsEnabled
        ? html`<form
            class="card form upload-form"
            method="post"
            action="/events/${eventId}/photos"
            enctype="multipart/form-data"
            data-upload-form
          >
            <div class="field drop-zone" data-drop-zone>
              <label for="photo-files">Add photos</label>
              <input
                id="photo-files"
                name="file"
                type="file"
                accept="image/jpeg,image/png,image/webp,image/avif,image/gif"
                multiple
                required
                aria-describedby="photo-hint"
              />
              <span class="hint" id="photo-hint"
                >JPEG, PNG, WebP, AVIF or GIF, up to ${options.maxUploadMiB} MiB each (HEIC is not supported: export as JPEG).<span
                  data-drop-hint
                  hidden
                >
                  Or drop photos here: they upload at once.</span
                ></span
              >
            </div>
            <div class="field">
              <label
                ><input name="shareLocation" type="checkbox" value="true" aria-describedby="photo-location-hint" /> Share where these
                photos were taken</label
              >
              <span class="hint" id="photo-location-hint"
                >Unticked, the location is removed from the files before anyone else can see them.</span
              >
            </div>
            <div class="actions"><button type="submit">Upload</button></div>
            <ul class="uploads" data-upload-list aria-live="polite"></ul>
          </form>`
        : ''
    }
    ${options.photos.length === 0 ? html`<p class="muted" data-gallery-empty>No photos yet.</p>` : ''}
    <ul class="gallery" data-gallery>
      ${options.photos.map((photo, i) => galleryTile(photo, from + i))}
    </ul>
    ${
      options.nextCursor
        ? html`<nav class="pager" aria-label="More photos">
            <a
              class="button secondary"
              data-gallery-more
              href="/events/${eventId}?photos=${options.nextCursor}&amp;from=${from + options.photos.length}#gallery"
              >More photos</a
            >
          </nav>`
        : ''
    }
  </section>`;
}
