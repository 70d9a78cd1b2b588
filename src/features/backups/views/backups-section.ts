import { html, type SafeHtml } from '../../../platform/http/html.js';
import { timeTag } from '../../../ui/format.js';
import type { BackupSummary } from '../backups.manifest.js';
import type { DrillRecord } from '../backups.repository.js';
import { formatBytes } from '../backups.snapshot.js';
import type { BackupsService } from '../backups.service.js';

/** Why a drill failed, as its report says. */
const reasonOf = (drill: DrillRecord, otherwise: string) => (typeof drill.report.reason === 'string' ? drill.report.reason : otherwise);

/** The /admin section: the backups in storage and the latest restore drills. */
export function backupsSection(options: { backups: BackupSummary[]; drills: DrillRecord[]; keep: number }): SafeHtml {
  const [lastDrill] = options.drills;
  return html`<section aria-labelledby="backups"><h2 id="backups">Backups</h2>
  <p class="muted">A backup runs daily (<code>epu backup</code> any time); the newest ${options.keep} are kept. <code>epu drill</code> restores the newest into a scratch database and checks every table.</p>
  ${
    lastDrill
      ? html`<p class="${lastDrill.ok ? 'notice' : 'alert'}" role="status">Last drill ${timeTag(lastDrill.ranAt)}: ${lastDrill.ok ? 'passed' : html`<strong>failed</strong>: ${reasonOf(lastDrill, 'see the report')}`} (backup <code>${lastDrill.backupId}</code>).</p>`
      : html`<p class="alert" role="status">No restore drill has run yet: run <code>epu drill</code>.</p>`
  }
  ${
    options.backups.length
      ? html`<table class="table stack"><caption class="muted">Complete backups in storage, newest first</caption>
      <thead><tr><th scope="col">Backup</th><th scope="col">Taken</th><th scope="col">Schema</th><th scope="col">Rows</th><th scope="col">Size</th></tr></thead>
      <tbody>${options.backups.map(
        (backup) =>
          html`<tr><td data-label="Backup"><code>${backup.id}</code></td><td data-label="Taken">${timeTag(backup.createdAt)}</td><td data-label="Schema">${backup.schemaVersion}</td><td data-label="Rows">${backup.totalRows}</td><td data-label="Size">${formatBytes(backup.totalBytes)}</td></tr>`,
      )}</tbody></table>`
      : html`<p class="muted">No backups yet.</p>`
  }
  ${
    options.drills.length
      ? html`<table class="table stack"><caption class="muted">Restore drills, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Backup</th><th scope="col">Result</th><th scope="col">Took</th></tr></thead>
      <tbody>${options.drills.map(
        (drill) => html`<tr><td data-label="When">${timeTag(drill.ranAt)}</td><td data-label="Backup"><code>${drill.backupId}</code></td>
          <td data-label="Result">${drill.ok ? 'passed' : html`failed: ${reasonOf(drill, '')}`}</td><td data-label="Took">${(drill.durationMs / 1000).toFixed(1)} s</td></tr>`,
      )}</tbody></table>`
      : ''
  }
</section>`;
}

/** The section as /admin renders it (an AdminSection). */
export function backupsAdminSection(backups: BackupsService, keep: number): () => Promise<SafeHtml> {
  return async () => {
    const [list, drills] = await Promise.all([backups.list(), backups.latestDrills(5)]);
    return backupsSection({ backups: list, drills, keep });
  };
}
