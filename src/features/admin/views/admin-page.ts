import { html, type SafeHtml } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';
import type { Job, JobCounts } from '../../../platform/queue/index.js';
import { timeTag } from '../../../ui/format.js';
import { AUDIT_ACTIONS } from '../../audit/audit.types.js';

export interface AuditItem {
  id: string;
  at: string;
  action: string;
  actorId: string | null;
  subjectType: string;
  subjectId: string;
  requestId: string | null;
}

export function auditSection(options: {
  items: AuditItem[];
  nextCursor: string | null;
  filter: Record<string, string | undefined>;
}): SafeHtml {
  const { filter } = options;
  const query = (cursor: string) =>
    new URLSearchParams({ ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v)), cursor } as Record<
      string,
      string
    >).toString();
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
  <table class="table"><caption class="muted">Newest first</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Request</th></tr></thead>
    <tbody>${options.items.map(
      (item) =>
        html`<tr><td>${timeTag(item.at)}</td><td><code>${item.action}</code></td><td>${item.actorId ?? 'system'}</td><td>${item.subjectType} ${item.subjectId}</td><td>${item.requestId ?? ''}</td></tr>`,
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
      ? html`<table class="table"><caption class="muted">Dead jobs, and jobs that failed and wait to retry</caption>
      <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col"></th></tr></thead>
      <tbody>${options.failing.map(
        (
          job,
        ) => html`<tr><td><code>${job.name}</code><br><span class="muted">${job.id}</span></td><td>${job.status}</td><td>${job.attempts}/${job.maxAttempts}</td>
          <td>${(job.lastError ?? '').slice(0, 300)}</td>
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
