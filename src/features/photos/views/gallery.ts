import { html, type SafeHtml } from '../../../platform/http/html.js';
import type { PhotoJson } from '../photos.service.js';
import { RENDITIONS } from '../photos.jobs.js';

/** Width and height attributes for a thumbnail, so the page does not jump as images load. */
function thumbnailSize(photo: PhotoJson): { width: number; height: number } {
  const w = photo.width ?? RENDITIONS.thumbnail;
  const h = photo.height ?? RENDITIONS.thumbnail;
  const scale = Math.min(1, RENDITIONS.thumbnail / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

export function gallerySection(options: {
  eventId: string;
  photos: PhotoJson[];
  nextCursor: string | null;
  canUpload: boolean;
  canDelete: (photo: PhotoJson) => boolean;
  maxUploadMiB: number;
  uploadsEnabled: boolean;
}): SafeHtml {
  const { eventId } = options;
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
            <div class="field">
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
              <span class="hint" id="photo-hint">JPEG, PNG, WebP, AVIF or GIF, up to ${options.maxUploadMiB} MiB each.</span>
            </div>
            <div class="actions"><button type="submit">Upload</button></div>
            <ul class="uploads" data-upload-list aria-live="polite"></ul>
          </form>`
        : ''
    }
    ${options.photos.length === 0 ? html`<p class="muted" data-gallery-empty>No photos yet.</p>` : ''}
    <ul class="gallery" data-gallery>
      ${options.photos.map((photo) => {
        const size = thumbnailSize(photo);
        return html`<li id="photo-${photo.id}">
          <a href="${photo.displayUrl ?? photo.url ?? '#'}"
            ><img
              src="${photo.thumbnailUrl ?? ''}"
              width="${size.width}"
              height="${size.height}"
              loading="lazy"
              decoding="async"
              alt="Photo ${photo.takenAt ? `taken ${photo.takenAt.slice(0, 10)}` : `added ${photo.createdAt.slice(0, 10)}`}"
          /></a>
          <div class="tools">
            <a href="${photo.url ?? '#'}">Original</a> ${
              options.canDelete(photo)
                ? html`<form method="post" action="/photos/${photo.id}/delete" class="inline">
                    <button class="link" type="submit" aria-label="Delete this photo">Delete</button>
                  </form>`
                : ''
            }
          </div>
        </li>`;
      })}
    </ul>
    ${options.nextCursor ? html`<nav class="pager" aria-label="More photos"><a class="button secondary" href="/events/${eventId}?photos=${options.nextCursor}#gallery">Older photos →</a></nav>` : ''}
  </section>`;
}
