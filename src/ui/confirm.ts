// The step before a destructive action: a page of its own (so it works
// without JavaScript) saying what will be lost, with the confirmed form and a
// way back. The action's POST does nothing without `confirm=yes` and sends
// the browser here instead (confirmed() below), so a stale or hand-made form
// still asks first. The cross-site guard covers the POST as any other.
import { html, type SafeHtml } from '../platform/http/html.js';
import { page, type Viewer } from './layout.js';

export function confirmPage(options: {
  viewer: Viewer;
  heading: string;
  /** What will be lost, in plain words. */
  body: SafeHtml;
  action: string;
  /** Hidden fields the action takes along (what it acts on). */
  fields?: Record<string, string>;
  button: string;
  back: { href: string; label: string };
}): string {
  return page({
    title: options.heading,
    viewer: options.viewer,
    body: html`<section class="card confirm" aria-labelledby="confirm-heading">
      <h1 id="confirm-heading">${options.heading}</h1>
      ${options.body}
      <form method="post" action="${options.action}" class="actions">
        <input type="hidden" name="confirm" value="yes">
        ${Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
        <button class="danger" type="submit">${options.button}</button>
        <a href="${options.back.href}">${options.back.label}</a>
      </form>
    </section>`,
  });
}

/** Whether a destructive form was sent from its confirmation page. */
export function confirmed(body: unknown): boolean {
  return (body as { confirm?: unknown } | null)?.confirm === 'yes';
}
