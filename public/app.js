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
