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
        gallery.prepend(thumbnail(photo));
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

  function thumbnail(photo) {
    const li = document.createElement('li');
    li.id = `photo-${photo.id}`;
    const link = document.createElement('a');
    link.href = photo.displayUrl ?? photo.url;
    const img = document.createElement('img');
    img.src = photo.thumbnailUrl;
    img.alt = 'Photo just added';
    img.loading = 'lazy';
    const scale = Math.min(1, 400 / Math.max(photo.width ?? 400, photo.height ?? 400));
    img.width = Math.round((photo.width ?? 400) * scale);
    img.height = Math.round((photo.height ?? 400) * scale);
    link.append(img);
    li.append(link);
    return li;
  }
}
