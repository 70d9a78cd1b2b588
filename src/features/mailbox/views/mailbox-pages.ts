import { html } from '../../../platform/http/html.js';
import type { StoredMail } from '../../../platform/mail/dev-mailbox.js';
import { page, type Viewer } from '../../../ui/layout.js';

const LINK = /https?:\/\/[^\s<>"]+/g;

export function mailboxPage(mails: StoredMail[], viewer: Viewer | null): string {
  return page({
    title: 'Dev mailbox',
    viewer,
    noindex: true,
    body: html`<section class="card">
  <h1>Dev mailbox</h1>
  <p class="muted">Development only: SMTP_URL is not set, so mail the app would send is kept here (newest first) and printed to the log.</p>
  ${
    mails.length === 0
      ? html`<p>No mail yet.</p>`
      : html`<ul class="mailbox">
    ${mails.map(
      (mail) =>
        html`<li><a href="/dev/mailbox/${mail.id}">${mail.subject}</a> <span class="muted">to ${mail.to.email}, ${mail.at}</span></li>`,
    )}
  </ul>`
  }
</section>`,
  });
}

export function mailPage(mail: StoredMail, viewer: Viewer | null): string {
  const links = [...new Set(mail.text.match(LINK) ?? [])];
  return page({
    title: mail.subject,
    viewer,
    noindex: true,
    body: html`<section class="card">
  <p><a href="/dev/mailbox">Dev mailbox</a></p>
  <h1>${mail.subject}</h1>
  <dl>
    <dt>From</dt><dd>${mail.from}</dd>
    <dt>To</dt><dd>${mail.to.name} &lt;${mail.to.email}&gt;</dd>
    <dt>Kept</dt><dd>${mail.at}</dd>
  </dl>
  <pre class="mail-text">${mail.text}</pre>
  ${links.length > 0 ? html`<h2>Links</h2><ul>${links.map((link) => html`<li><a href="${link}">${link}</a></li>`)}</ul>` : ''}
  ${
    mail.attachments?.length
      ? html`<h2>Attachments</h2><ul>${mail.attachments.map(
          (attachment, i) => html`<li><a href="/dev/mailbox/${mail.id}/attachments/${String(i)}">${attachment.filename}</a></li>`,
        )}</ul>`
      : ''
  }
</section>`,
  });
}
