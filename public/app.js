// Progressive enhancement only: every page works without this file.
// --- Time zones (events) -----------------------------------------------------
// Moments (an export, a backup) come in UTC: show them on the reader's clock, named.
for (const time of document.querySelectorAll('time[datetime][data-local]')) {
  const date = new Date(time.getAttribute('datetime'));
  if (!Number.isNaN(date.getTime())) {
    time.textContent = date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }) + ' ' + zoneName(date);
  }
}
function zoneName(date) {
  return (
    new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(date).find((part) => part.type === 'timeZoneName')?.value ??
    ''
  );
}
// Event times are on the event's own clock (the server writes them so); add the
// reader's own time where it reads differently.
const readerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
for (const slot of document.querySelectorAll('[data-viewer-time]')) {
  const start = new Date(slot.dataset.start);
  const end = slot.dataset.end ? new Date(slot.dataset.end) : null;
  const long = slot.hasAttribute('data-long');
  const clock = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  const day = long
    ? { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }
    : { weekday: 'short', day: 'numeric', month: 'short' };
  const read = (date, zone, parts) => new Intl.DateTimeFormat('en-GB', { ...parts, timeZone: zone }).format(date).replace(',', '');
  const whole = (date, zone) => `${read(date, zone, day)}, ${read(date, zone, clock)}`;
  if (Number.isNaN(start.getTime()) || whole(start, slot.dataset.zone) === whole(start, readerZone)) continue;
  let text = whole(start, readerZone);
  if (end)
    text += ` – ${read(end, readerZone, day) === read(start, readerZone, day) ? '' : `${read(end, readerZone, day)}, `}${read(end, readerZone, clock)}`;
  const place = readerZone.slice(readerZone.lastIndexOf('/') + 1).replace(/_/g, ' ');
  slot.textContent = long ? `Your time (${place}): ${text}` : `(${text} your time)`;
  slot.hidden = false;
}
// The new-event form: the reader's zone by default (without this script, the instance's default).
for (const select of document.querySelectorAll('select[data-browser-zone]')) {
  if (![...select.options].some((option) => option.value === readerZone))
    select.add(new Option(readerZone.replace(/_/g, ' '), readerZone), 0);
  select.value = readerZone;
}
// A start in the past: warn as it is typed, and ask to confirm (the server asks too).
for (const form of document.querySelectorAll('form[data-event-form]')) {
  const warning = form.querySelector('[data-past-warning]');
  const startsAt = form.querySelector('[data-starts-at]');
  const zone = form.elements.timeZone;
  if (!warning || !startsAt || !zone) continue;
  const update = () => {
    const past = startsAt.value !== '' && startsAt.value < nowOnClock(zone.value);
    warning.hidden = !past;
    if (!past) form.elements.confirmPast.checked = false;
  };
  startsAt.addEventListener('change', update);
  zone.addEventListener('change', update);
}
/** Now as a datetime-local value on a zone's clock: comparing such strings compares times. */
function nowOnClock(zone) {
  const parts = {};
  try {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    for (const part of format.formatToParts(new Date())) parts[part.type] = part.value;
  } catch {
    return '';
  }
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
// --- end of time zones ---------------------------------------------------------
// Move focus to form errors so screen readers announce them.
document.getElementById('form-errors')?.focus();

// Photo uploads: each file on its own request, with a preview, a progress bar
// and its own status (uploading, processing, done, or failed with the reason
// and a Retry button); files dropped on the field upload at once. Without this
// script the form posts the batch and the server names any refused file.
for (const form of document.querySelectorAll('form[data-upload-form]')) {
  const section = form.closest('[data-event-id]');
  const eventId = section?.getAttribute('data-event-id');
  const list = form.querySelector('[data-upload-list]');
  const gallery = section?.querySelector('[data-gallery]');
  const input = form.querySelector('input[type="file"]');
  const shareLocation = form.querySelector('input[name="shareLocation"]');
  const zone = form.querySelector('[data-drop-zone]');
  if (!eventId || !list || !gallery || !input) continue;

  const start = (files) => {
    // The choice made for these files, even if the box changes while they upload.
    const shared = shareLocation?.checked === true;
    for (const file of files) uploadOne(file, shared, newItem(file));
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const files = [...input.files];
    input.value = '';
    start(files);
  });

  if (zone) {
    zone.querySelector('[data-drop-hint]')?.removeAttribute('hidden');
    const over = (event) => {
      if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
      event.preventDefault();
      zone.classList.add('dragging');
    };
    zone.addEventListener('dragenter', over);
    zone.addEventListener('dragover', over);
    zone.addEventListener('dragleave', (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove('dragging');
    });
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('dragging');
      start([...(event.dataTransfer?.files ?? [])]);
    });
  }

  /** A row of the upload list: a preview, the file's name, its status and a progress bar. */
  function newItem(file) {
    const item = document.createElement('li');
    item.className = 'upload-item';
    // The picture itself, when the browser can show it (not HEIC, in most): an empty box otherwise.
    const blank = () => Object.assign(document.createElement('span'), { className: 'upload-preview' });
    if (file.type.startsWith('image/')) {
      const preview = document.createElement('img');
      preview.className = 'upload-preview';
      preview.alt = '';
      preview.src = URL.createObjectURL(file);
      preview.addEventListener('error', () => preview.replaceWith(blank()));
      item.append(preview);
    } else {
      item.append(blank());
    }
    const name = document.createElement('span');
    name.className = 'upload-name';
    name.textContent = file.name;
    const status = document.createElement('span');
    status.className = 'upload-status';
    status.setAttribute('data-upload-status', '');
    item.append(name, status);
    list.append(item);
    return item;
  }

  function setState(item, state, text) {
    item.dataset.state = state;
    item.querySelector('[data-upload-status]').textContent = text;
    item.querySelector('progress')?.remove();
    item.querySelector('[data-upload-retry]')?.remove();
  }

  /** A failed file says so and why, and offers to send it again. */
  function fail(item, file, shared, reason) {
    setState(item, 'failed', `Failed: ${reason}`);
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'secondary';
    retry.setAttribute('data-upload-retry', '');
    retry.textContent = 'Retry';
    const which = document.createElement('span');
    which.className = 'visually-hidden';
    which.textContent = ` ${file.name}`;
    retry.append(which);
    retry.addEventListener('click', () => uploadOne(file, shared, item));
    item.append(retry);
  }

  function uploadOne(file, shared, item) {
    setState(item, 'uploading', 'Uploading');
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute('aria-label', `${file.name} uploaded`);
    item.append(bar);
    const body = new FormData();
    if (shared) body.append('shareLocation', 'true');
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
        setState(item, 'processing', 'Processing');
        watch(answer.photo.id, item, file, shared);
      } else {
        fail(item, file, shared, answer.error?.message ?? `the server answered ${request.status}`);
      }
    });
    request.addEventListener('error', () => fail(item, file, shared, 'the connection failed'));
    request.send(body);
  }

  async function watch(photoId, item, file, shared) {
    for (let attempt = 0; attempt < 120; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, attempt < 10 ? 500 : 2000));
      const response = await fetch(`/api/v1/photos/${photoId}`, { headers: { accept: 'application/json' } }).catch(() => null);
      if (!response?.ok) continue;
      const photo = await response.json();
      if (photo.status === 'ready') {
        section.querySelector('[data-gallery-empty]')?.remove();
        const tile = await serverTile(photo.id).catch(() => null);
        if (tile && !document.getElementById(tile.id)) gallery.prepend(document.adoptNode(tile));
        setState(item, 'done', 'Done');
        return;
      }
      if (photo.status === 'failed') return fail(item, file, shared, `could not be processed (${photo.failureReason ?? 'unknown reason'})`);
    }
    setState(item, 'processing', 'Still processing; reload the page later');
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
