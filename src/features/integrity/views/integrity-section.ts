import { html, type SafeHtml } from '../../../platform/http/html.js';
import { timeTag } from '../../../ui/format.js';
import { CHECK_TITLES, INTEGRITY_CHECKS, type IntegrityReport } from '../integrity.service.js';

/** The integrity part of /admin: the latest run, a row per check with its count and a few samples. */
export function integritySection(report: IntegrityReport | null): SafeHtml {
  return html`<section class="card" aria-labelledby="integrity-heading" data-integrity>
  <h2 id="integrity-heading">Integrity</h2>
  ${
    report
      ? html`<p>${report.ok ? html`<span class="badge ok">All checks passed</span>` : html`<span class="badge full">Problems found</span>`}
    <span class="muted">Last run ${timeTag(report.ranAt)} (nightly <code>integrity.check</code>, or <code>epu check</code>).</span></p>
  <table class="table stack">
    <thead><tr><th scope="col">Check</th><th scope="col">Problems</th><th scope="col">Examples</th></tr></thead>
    <tbody>${INTEGRITY_CHECKS.map((check) => {
      const result = report.checks[check];
      return html`<tr data-check="${check}"><th scope="row">${CHECK_TITLES[check]}<br><code class="muted">${check}</code></th>
        <td data-label="Problems"><span class="badge${result.problems ? ' full' : ' ok'}">${result.problems}</span></td>
        <td data-label="Examples">${result.error ? html`<p>Could not run: ${result.error}</p>` : ''}${
          result.samples.length
            ? html`<ul>${result.samples.map((sample) => html`<li><code>${sample}</code></li>`)}</ul>`
            : result.error
              ? ''
              : html`<span class="muted">none</span>`
        }</td></tr>`;
    })}</tbody>
  </table>`
      : html`<p class="muted">No integrity run yet: <code>integrity.check</code> runs nightly at 02:30 UTC, or now with <code>epu check</code>.</p>`
  }
</section>`;
}
