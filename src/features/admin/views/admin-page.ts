import { html, type SafeHtml } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';
import type { Job, JobCounts } from '../../../platform/queue/index.js';
import { timeTag } from '../../../ui/format.js';
import { AUDIT_ACTIONS } from '../../audit/audit.types.js';
import type { NamedAuditEntry } from '../../audit/audit.service.js';
import { flagAnchor } from '../../flags/flags.service.js';

const eventLink = (item: NamedAuditEntry) => html`<a href="/events/${item.eventId}">${item.eventTitle}</a>`;
/** A person: their name, linking to the entries they made; an account the retention sweep removed has no name left. */
const personLink = (id: string, name: string | null) =>
  name === null ? html`<span class="muted">Removed account</span>` : html`<a href="/admin?actorId=${id}#audit">${name}</a>`;

/** What an entry is about, in words, linking to it where it still exists. */
function subjectCell(item: NamedAuditEntry): SafeHtml {
  const event = item.eventTitle !== null;
  switch (item.subjectType) {
    case 'user':
      return html`Account of ${personLink(item.subjectId, item.userName)}`;
    case 'event':
      return event ? html`Event ${eventLink(item)}` : html`<span class="muted">Deleted event</span>`;
    case 'photo':
      return item.photoExists
        ? html`<a href="/events/${item.eventId}/photos/${item.subjectId}">Photo</a> in ${eventLink(item)}`
        : event
          ? html`Deleted photo in ${eventLink(item)}`
          : html`<span class="muted">Deleted photo</span>`;
    case 'booking':
      return event ? html`Booking for ${eventLink(item)}` : html`<span class="muted">Booking of a deleted event</span>`;
    case 'export':
      return event ? html`Export of ${eventLink(item)}` : html`Data export`;
    case 'flag':
      return html`Flag <a href="/admin/flags#${flagAnchor(item.subjectId)}"><code>${item.subjectId}</code></a>`;
    default:
      return html`${item.subjectType} <code>${item.subjectId}</code>`;
  }
}

export function auditSection(options: {
  items: NamedAuditEntry[];
  nextCursor: string | null;
  filter: Record<string, string | undefined>;
}): SafeHtml {
  const { filter } = options;
  const query = (cursor: string) =>
    new URLSearchParams({ ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v)), cursor }).toString();
  return html`<section aria-labelledby="audit"><h2 id="audit">Audit trail</h2>
  <form class="card form" method="get" action="/admin#audit">
    <div class="row">
      <div class="field"><label for="audit-action">Action</label>
        <select id="audit-action" name="action"><option value="">Any</option>
          ${AUDIT_ACTIONS.map((a) => html`<option value="${a}"${filter.action === a ? html` selected` : ''}>${a}</option>`)}</select></div>
      <div class="field"><label for="audit-actor">Actor id</label><input id="audit-actor" name="actorId" value="${filter.actorId ?? ''}"></div>
      <div class="field"><label for="audit-subject-type">Subject type</label><input id="audit-subject-type" name="subjectType" value="${filter.subjectType ?? ''}"></div>
      <div class="field"><label for="audit-subject">Subject id</label><input id="audit-subject" name="subjectId" value="${filter.subjectId ?? ''}"></div>
    </div>
    <div class="actions"><button type="submit">Filter</button> <a href="/admin#audit">Clear</a></div>
  </form>
  <table class="table stack" id="audit-entries"><caption class="muted">Newest first</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">By</th><th scope="col">About</th><th scope="col">Request</th></tr></thead>
    <tbody>${options.items.map(
      (item) =>
        html`<tr><td data-label="When">${timeTag(item.at)}</td><td data-label="Action"><code>${item.action}</code></td>
          <td data-label="By">${item.actorId === null ? html`<span class="muted">System</span>` : personLink(item.actorId, item.actorName)}</td>
          <td data-label="About">${subjectCell(item)}</td><td data-label="Request">${item.requestId ? html`<code class="muted">${item.requestId}</code>` : ''}</td></tr>`,
    )}</tbody></table>
  ${options.items.length === 0 ? html`<p class="muted">No entries.</p>` : ''}
  ${options.nextCursor ? html`<nav class="pager"><a class="button secondary" href="/admin?${query(options.nextCursor)}#audit">Older entries →</a></nav>` : ''}
</section>`;
}

export function jobsSection(options: { counts: JobCounts; failing: Job[] }): SafeHtml {
  const { counts } = options;
  return html`<section aria-labelledby="jobs"><h2 id="jobs">Jobs</h2>
  <ul class="counters" aria-label="Jobs by state">
    <li><strong>${counts.queued}</strong> queued</li><li><strong>${counts.running}</strong> running</li>
    <li><strong>${counts.completed}</strong> completed</li><li><strong>${counts.dead}</strong> dead</li>
    <li>oldest queued: <strong>${Math.round(counts.oldestQueuedAgeSeconds ?? 0)} s</strong></li>
  </ul>
  ${
    options.failing.length
      ? html`<table class="table stack"><caption class="muted">Dead jobs, and jobs that failed and wait to retry</caption>
      <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col"><span class="visually-hidden">Retry</span></th></tr></thead>
      <tbody>${options.failing.map(
        (
          job,
        ) => html`<tr><td data-label="Job"><code>${job.name}</code><br><span class="muted">${job.id}</span></td><td data-label="State">${job.status}</td><td data-label="Attempts">${job.attempts}/${job.maxAttempts}</td>
          <td data-label="Last error">${(job.lastError ?? '').slice(0, 300)}</td>
          <td>${job.status === 'dead' ? html`<form method="post" action="/admin/jobs/${job.id}/retry" class="inline"><button class="small" type="submit">Retry</button></form>` : ''}</td></tr>`,
      )}</tbody></table>`
      : html`<p class="muted">No failing jobs.</p>`
  }
</section>`;
}

export function adminPage(options: { viewer: Viewer; notice?: string; sections: SafeHtml[] }): string {
  return page({
    title: 'Admin',
    viewer: options.viewer,
    section: 'admin',
    body: html`${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
<div class="hero"><div><h1>Admin</h1><p class="muted">Stats, audit trail, flags, jobs, backups and integrity.</p></div>
  <nav class="actions" aria-label="Admin sections"><a href="#stats">Stats</a><a href="#audit">Audit</a><a href="/admin/flags">Flags</a><a href="#jobs">Jobs</a><a href="#backups">Backups</a><a href="#integrity">Integrity</a></nav></div>
${options.sections}`,
  });
}
