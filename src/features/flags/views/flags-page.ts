import { html } from '../../../platform/http/html.js';
import { formErrors, page, type Viewer } from '../../../ui/layout.js';
import type { FieldProblem } from '../../../platform/http/validation.js';
import { flagAnchor, type FlagJson, type StaleFlagJson } from '../flags.service.js';

const STATE_LABEL = { on: 'On for everyone', off: 'Off', partial: 'Partial rollout' } as const;

function flagRow(flag: FlagJson) {
  const id = flagAnchor(flag.name);
  return html`<tr id="${id}">
  <td data-label="Flag"><strong><code>${flag.name}</code></strong>${flag.description ? html`<br><span class="muted">${flag.description}</span>` : ''}</td>
  <td data-label="State"><span class="badge${flag.state === 'on' ? ' ok' : ''}">${STATE_LABEL[flag.state]}</span></td>
  <td data-label="Settings">
    <form method="post" action="/admin/flags/${flag.name}" class="flag-settings" aria-label="Settings of ${flag.name}">
      <div class="field"><label class="check"><input type="checkbox" name="enabled" value="true"${flag.enabled ? html` checked` : ''}> Enabled</label></div>
      <div class="field"><label for="${id}-rollout">Rollout %</label>
        <input id="${id}-rollout" name="rolloutPercentage" type="number" min="0" max="100" step="1" inputmode="numeric" required value="${flag.rolloutPercentage}"></div>
      <div class="actions"><button type="submit">Save</button></div>
    </form>
  </td>
  <td data-label="Updated">${flag.updatedAt.slice(0, 16).replace('T', ' ')} UTC</td>
</tr>`;
}

export function flagsPage(options: {
  viewer: Viewer;
  flags: FlagJson[];
  stale: StaleFlagJson[];
  staleDays: number;
  notice?: string;
  problems?: FieldProblem[] | string;
  newFlag?: Record<string, string | undefined>;
}): string {
  const newFlag = options.newFlag ?? {};
  return page({
    title: 'Feature flags',
    viewer: options.viewer,
    section: 'admin',
    body: html`${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${formErrors(options.problems)}
<section class="card">
  <h1>Feature flags</h1>
  <p class="muted">A change reaches every process within seconds. Below 100 %, a flag is on for a stable share of signed-in users and off for anonymous visitors.</p>
  ${
    options.flags.length === 0
      ? html`<p>No flags yet.</p>`
      : html`<table class="table stack">
  <thead><tr><th scope="col">Flag</th><th scope="col">State</th><th scope="col">Settings</th><th scope="col">Updated</th></tr></thead>
  <tbody>${options.flags.map(flagRow)}</tbody>
</table>`
  }
</section>
<section class="card">
  <h2>New flag</h2>
  <form class="form" method="post" action="/admin/flags">
    <div class="row">
      <div class="field"><label for="new-name">Name</label>
        <input id="new-name" name="name" required maxlength="64" pattern="[a-z][a-z0-9_.\\-]{1,63}" value="${newFlag.name ?? ''}" aria-describedby="new-name-hint">
        <span class="hint" id="new-name-hint">Lowercase letters, digits, ".", "_" and "-", such as <code>photos.uploads</code>.</span></div>
      <div class="field"><label for="new-rollout">Rollout %</label>
        <input id="new-rollout" name="rolloutPercentage" type="number" min="0" max="100" step="1" required value="${newFlag.rolloutPercentage ?? '100'}"></div>
    </div>
    <div class="field"><label for="new-description">Description</label>
      <input id="new-description" name="description" maxlength="500" value="${newFlag.description ?? ''}"></div>
    <div class="field"><label class="check"><input type="checkbox" name="enabled" value="true"${newFlag.enabled ? html` checked` : ''}> Enabled</label></div>
    <div class="actions"><button type="submit">Create flag</button></div>
  </form>
</section>
<section class="card" aria-labelledby="stale-heading">
  <h2 id="stale-heading">Stale flags</h2>
  <p class="muted">Fully on or fully off for more than ${options.staleDays} days: remove the flag from the code, then from this list.</p>
  ${
    options.stale.length === 0
      ? html`<p>None.</p>`
      : html`<table class="table stack" id="stale-flags">
  <thead><tr><th scope="col">Flag</th><th scope="col">State</th><th scope="col">Since</th><th scope="col">Days</th></tr></thead>
  <tbody>${options.stale.map((flag) => html`<tr><td data-label="Flag"><code>${flag.name}</code></td><td data-label="State">${STATE_LABEL[flag.state]}</td><td data-label="Since">${flag.stateSince.slice(0, 10)}</td><td data-label="Days">${flag.days}</td></tr>`)}</tbody>
</table>`
  }
</section>`,
  });
}
