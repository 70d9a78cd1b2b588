import { html } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';

/** A file of a batch that was not added, and why (the refusal's own message, which says what to do). */
export interface RefusedFile {
  name: string;
  status: number;
  message: string;
}

/**
 * After a form upload in which some files were refused: which ones and why,
 * first on the page (the script focuses the alert, as it does a form's errors),
 * and the way back to the gallery, where the others are.
 */
export function uploadResultsPage(options: { viewer: Viewer; eventPath: string; added: number; refused: RefusedFile[] }): string {
  const { added, refused } = options;
  const total = added + refused.length;
  return page({
    title: added > 0 ? `${added} of ${total} photos added` : 'No photos added',
    viewer: options.viewer,
    body: html`<section class="card upload-results" aria-labelledby="upload-results">
      <h1 id="upload-results">${added > 0 ? `${added} of ${total} photos added` : 'No photos added'}</h1>
      <div class="alert" role="alert" tabindex="-1" id="form-errors">
        <p>${refused.length === 1 ? 'This file was not added:' : `These ${refused.length} files were not added:`}</p>
        <ul data-refused-files>
          ${refused.map((file) => html`<li><strong>${file.name}</strong>: ${file.message}</li>`)}
        </ul>
      </div>
      ${added > 0 ? html`<p>The other photos appear in the gallery as soon as they are processed.</p>` : ''}
      <p><a class="button" href="${options.eventPath}#gallery">Back to the photos</a></p>
    </section>`,
  });
}
