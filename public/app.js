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

// Photo uploads: several files at once, a progress bar each, then live status
// until the thumbnail shows. Without this script the form posts normally.
for (const form of document.querySelectorAll('form[data-upload-form]')) {
  const section = form.closest('[data-event-id]');
  const eventId = section?.getAttribute('data-event-id');
  const list = form.querySelector('[data-upload-list]');
  const gallery = section?.querySelector('[data-gallery]');
  const input = form.querySelector('input[type="file"]');
  const shareLocation = form.querySelector('input[name="shareLocation"]');
  if (!eventId || !list || !gallery || !input) continue;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const files = [...input.files];
    // The choice made for these files, even if the box changes while they upload.
    const shared = shareLocation?.checked === true;
    input.value = '';
    files.forEach((file) => uploadOne(file, shared));
  });

  function uploadOne(file, shared) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    label.textContent = `${file.name}: uploading`;
    item.append(label, bar);
    list.append(item);
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
