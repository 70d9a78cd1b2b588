// Progressive enhancement only: every page works without this file.
// Times: show event times in the reader's own time zone.
for (const time of document.querySelectorAll('time[datetime][data-local]')) {
  const date = new Date(time.getAttribute('datetime'));
  if (!Number.isNaN(date.getTime())) {
    time.textContent = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
}
// Forms with datetime-local inputs: tell the server the reader's UTC offset.
for (const input of document.querySelectorAll('input[name="tzOffsetMinutes"]')) {
  input.value = String(new Date().getTimezoneOffset());
}
// Move focus to form errors so screen readers announce them.
document.getElementById('form-errors')?.focus();

// Photo uploads: several files at once, a progress bar each, then live status
// until the thumbnail shows. Without this script the form posts normally.
for (const form of document.querySelectorAll('form[data-upload-form]')) {
  const section = form.closest('[data-event-id]');
  const eventId = section?.getAttribute('data-event-id');
  const list = form.querySelector('[data-upload-list]');
  const gallery = section?.querySelector('[data-gallery]');
  const input = form.querySelector('input[type="file"]');
  if (!eventId || !list || !gallery || !input) continue;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const files = [...input.files];
    input.value = '';
    files.forEach(uploadOne);
  });

  function uploadOne(file) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    label.textContent = `${file.name}: uploading`;
    item.append(label, bar);
    list.append(item);
    const body = new FormData();
    body.append('file', file);
    const request = new XMLHttpRequest();
    request.open('POST', `/api/v1/events/${eventId}/photos`);
    request.setRequestHeader('accept', 'application/json');
    request.upload.addEventListener('progress', (progress) => {
      if (progress.lengthComputable) bar.value = Math.round((progress.loaded / progress.total) * 100);
    });
    request.addEventListener('load', () => {
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        // a non-JSON answer is reported by status below
      }
      if (request.status === 202 && answer.photo) {
        bar.value = 100;
        label.textContent = `${file.name}: processing`;
        watch(answer.photo.id, item, label, file.name);
      } else {
        item.classList.add('failed');
        label.textContent = `${file.name}: ${answer.error?.message ?? `failed (${request.status})`}`;
        bar.remove();
      }
    });
    request.addEventListener('error', () => {
      label.textContent = `${file.name}: the connection failed`;
      bar.remove();
    });
    request.send(body);
  }

  async function watch(photoId, item, label, name) {
    for (let attempt = 0; attempt < 120; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, attempt < 10 ? 500 : 2000));
      const response = await fetch(`/api/v1/photos/${photoId}`, { headers: { accept: 'application/json' } });
      if (!response.ok) continue;
      const photo = await response.json();
      if (photo.status === 'ready') {
        label.textContent = `${name}: ready`;
        item.querySelector('progress')?.remove();
        section.querySelector('[data-gallery-empty]')?.remove();
        const tile = await serverTile(photo.id).catch(() => null);
        if (tile && !document.getElementById(tile.id)) gallery.prepend(document.adoptNode(tile));
        return;
      }
      if (photo.status === 'failed') {
        label.textContent = `${name}: could not be processed (${photo.failureReason ?? 'unknown reason'})`;
        item.querySelector('progress')?.remove();
        return;
      }
    }
    label.textContent = `${name}: still processing; reload the page later`;
  }

  /** The new photo's tile as the server renders it on the event's page (its shape, srcset, name and link to the viewer). */
  async function serverTile(photoId) {
    const page = await fetchPage(`/events/${eventId}`);
    return page.getElementById(`photo-${photoId}`);
  }
}

// === Gallery and photo viewer (issue 16, part B) ===
// Both work without this script: "More photos" is a link to the next page, and
// the viewer is a page per photo with plain previous/next/back links. Here:
// the next page's tiles are added in place, and the viewer takes arrow keys,
// swipes and Esc, swapping photos without a page load.

/** The server's own markup of another page, to take parts from (no second copy of the templates here). */
async function fetchPage(href) {
  const response = await fetch(href, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${response.status}`);
  return new DOMParser().parseFromString(await response.text(), 'text/html');
}

document.addEventListener('click', async (event) => {
  const more = event.target instanceof Element ? event.target.closest('a[data-gallery-more]') : null;
  if (!more || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const gallery = more.closest('[data-event-id]')?.querySelector('[data-gallery]');
  if (!gallery) return;
  event.preventDefault();
  more.setAttribute('aria-busy', 'true');
  try {
    const next = await fetchPage(more.href);
    const tiles = [...next.querySelectorAll('[data-gallery] > li')].filter((tile) => !document.getElementById(tile.id));
    gallery.append(...tiles.map((tile) => document.adoptNode(tile)));
    const nextMore = next.querySelector('a[data-gallery-more]');
    if (nextMore) more.href = nextMore.getAttribute('href');
    else more.closest('nav')?.remove();
    // Keyboard users carry on from the first new photo.
    tiles[0]?.querySelector('a')?.focus();
  } catch {
    window.location.assign(more.href);
  } finally {
    more.removeAttribute('aria-busy');
  }
});

const viewerRoot = document.querySelector('[data-viewer]');
if (viewerRoot) {
  const link = (name) => document.querySelector(`[data-viewer] [data-viewer-${name}]`);
  let swapping = false;

  async function show(href) {
    if (swapping) return;
    swapping = true;
    try {
      const next = await fetchPage(href);
      const incoming = next.querySelector('[data-viewer]');
      if (!incoming) throw new Error('no viewer');
      document.querySelector('[data-viewer]').replaceWith(document.adoptNode(incoming));
      document.title = next.title;
      // Replace, not push: Back leaves the viewer for the gallery, as in photo apps; the address is always this photo's.
      history.replaceState(null, '', href);
      document.getElementById('viewer-title')?.focus();
      preload();
    } catch {
      window.location.assign(href);
    } finally {
      swapping = false;
    }
  }

  function close() {
    const back = link('close');
    if (!back) return;
    const gallery = new URL(back.href);
    // Came from the gallery: going back restores its scroll position; otherwise open it.
    if (document.referrer && new URL(document.referrer).pathname === gallery.pathname && history.length > 1) history.back();
    else window.location.assign(back.href);
  }

  function step(name) {
    const target = link(name);
    if (target) show(target.href);
  }

  function preload() {
    for (const name of ['prev', 'next']) {
      const target = link(name);
      if (target) fetch(target.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' }).catch(() => undefined);
    }
  }

  document.addEventListener('click', (event) => {
    const target =
      event.target instanceof Element ? event.target.closest('[data-viewer-prev], [data-viewer-next], [data-viewer-close]') : null;
    if (!target || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    if (target.hasAttribute('data-viewer-close')) close();
    else show(target.href);
  });

  document.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest?.('input, textarea, select')) return;
    if (event.key === 'ArrowLeft') step('prev');
    else if (event.key === 'ArrowRight') step('next');
    else if (event.key === 'Escape') close();
    else return;
    event.preventDefault();
  });

  // A horizontal swipe on the photo: right for the previous, left for the next.
  let touch = null;
  document.addEventListener(
    'touchstart',
    (event) => {
      touch = event.touches.length === 1 ? { x: event.touches[0].clientX, y: event.touches[0].clientY } : null;
    },
    { passive: true },
  );
  document.addEventListener(
    'touchend',
    (event) => {
      if (!touch || event.changedTouches.length !== 1) return;
      const dx = event.changedTouches[0].clientX - touch.x;
      const dy = event.changedTouches[0].clientY - touch.y;
      touch = null;
      if (Math.abs(dx) < 50 || Math.abs(dx) < Math.abs(dy) * 1.5) return;
      step(dx > 0 ? 'prev' : 'next');
    },
    { passive: true },
  );
  preload();
}
// === end gallery and photo viewer ===
