import { html, type SafeHtml } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';
import type { ViewerPhoto } from '../photos.service.js';
import { renditionSize } from '../renditions.js';
import { photoAlt, takenLabel, viewerPath } from './gallery.js';

/**
 * The full-screen photo viewer: a page of its own per photo (shareable, works
 * without JavaScript: the previous/next links and the way back are plain
 * links). public/app.js adds arrow keys, swipes and Esc, and swaps photos in
 * place.
 */
export function viewerPage(options: { viewer: Viewer | null; shown: ViewerPhoto }): string {
  const { event, photo, download } = options.shown;
  const size = renditionSize(photo.width ?? 1, photo.height ?? 1, 'display');
  const title = `Photo ${options.shown.position} of ${options.shown.total}`;
  const galleryHref = `/events/${event.id}#photo-${photo.id}`;
  const step = (id: string | null, rel: 'prev' | 'next', label: string, glyph: string) =>
    id
      ? html`<a class="viewer-step viewer-${rel}" rel="${rel}" href="${viewerPath(event.id, id)}" data-viewer-${rel}
          ><span aria-hidden="true">${glyph}</span><span class="visually-hidden">${label}</span></a
        >`
      : '';
  return page({
    title: `${title} · ${event.title}`,
    viewer: options.viewer,
    bodyClass: 'viewer-page',
    description: `${title} from ${event.title}`,
    noindex: event.visibility !== 'public',
    body: html`<div class="viewer" data-viewer>
      <header class="viewer-bar">
        <a class="viewer-close" href="${galleryHref}" data-viewer-close
          ><span aria-hidden="true">←</span> <span>Back to ${event.title}</span></a
        >
        <h1 id="viewer-title" tabindex="-1">${title}</h1>
        <div class="viewer-actions">
          <a class="button small secondary" href="${download.url}" download="${download.name}"
            >${download.original ? 'Download original' : 'Download'}</a
          >
          ${coverControl(options.shown)}
          ${options.shown.canDelete ? html`<a class="button small danger" href="/photos/${photo.id}/delete">Delete</a>` : ''}
        </div>
      </header>
      <figure class="viewer-stage">
        <img
          src="${photo.displayUrl ?? ''}"
          width="${size.width}"
          height="${size.height}"
          alt="${photoAlt(photo, options.shown.position)}"
        />
        <figcaption>
          ${photo.uploader ? html`<span>By ${photo.uploader.name}</span>` : ''}<span>${capitalise(takenLabel(photo))}</span>
        </figcaption>
      </figure>
      <nav class="viewer-steps" aria-label="Photos">
        ${step(options.shown.newerId, 'prev', 'Previous photo', '‹')} ${step(options.shown.olderId, 'next', 'Next photo', '›')}
      </nav>
    </div>`,
  });
}

/** The host's "Use as cover" (a form: it works without JavaScript; replacing a cover asks first), or "Remove as cover" on the cover. */
function coverControl(shown: ViewerPhoto): SafeHtml | string {
  if (!shown.cover.mayChoose) return '';
  const { event, photo } = shown;
  return html`<form method="post" action="/events/${event.id}/cover" class="inline">
    <input type="hidden" name="photoId" value="${photo.id}" />
    ${
      shown.cover.isCover
        ? html`<span class="badge ok">Cover</span>
            <input type="hidden" name="remove" value="yes" />
            <button class="small secondary" type="submit">Remove as cover</button>`
        : html`<button class="small secondary" type="submit">Use as cover</button>`
    }
  </form>`;
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
