import { html, type SafeHtml } from '../platform/http/html.js';
import { assetUrl } from './assets.js';

export interface Viewer {
  name: string;
  role: 'user' | 'admin';
}

export interface PageOptions {
  title: string;
  viewer: Viewer | null;
  body: SafeHtml;
  /** Marks the current section in the navigation. */
  section?: 'home' | 'new' | 'me' | 'admin' | 'login' | 'signup';
  description?: string;
  /** A class on <body> for pages with their own frame (the full-screen photo viewer). */
  bodyClass?: string;
  /** Keeps search engines from listing the page (unlisted and private events); the route sends X-Robots-Tag too. */
  noindex?: boolean;
  /** What a shared link shows in a chat or a feed (Open Graph and Twitter cards). */
  preview?: LinkPreview;
}

export interface LinkPreview {
  /** Absolute: previews are fetched by other sites. */
  url: string;
  title: string;
  description: string;
  image?: { url: string; alt: string };
}

function previewTags(preview: LinkPreview): SafeHtml {
  const { image } = preview;
  return html`<meta property="og:type" content="website">
<meta property="og:site_name" content="EPU">
<meta property="og:url" content="${preview.url}">
<meta property="og:title" content="${preview.title}">
<meta property="og:description" content="${preview.description}">
${
  image
    ? html`<meta property="og:image" content="${image.url}">
<meta property="og:image:alt" content="${image.alt}">
`
    : ''
}<meta name="twitter:card" content="${image ? 'summary_large_image' : 'summary'}">
<meta name="twitter:title" content="${preview.title}">
<meta name="twitter:description" content="${preview.description}">
${
  image
    ? html`<meta name="twitter:image" content="${image.url}">
<meta name="twitter:image:alt" content="${image.alt}">
`
    : ''
}`;
}

function navLink(href: string, label: string, current: boolean): SafeHtml {
  return html`<a href="${href}"${current ? html` aria-current="page"` : ''}>${label}</a>`;
}

export function page(options: PageOptions): string {
  const { viewer, section } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · EPU</title>
<meta name="description" content="${options.description ?? 'EPU: events and their photos, shared.'}">
${
  options.noindex
    ? html`<meta name="robots" content="noindex">
`
    : ''
}${options.preview ? previewTags(options.preview) : ''}<link rel="icon" href="${assetUrl('favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${assetUrl('app.css')}">
<script type="module" src="${assetUrl('app.js')}"></script>
</head>
<body${options.bodyClass ? html` class="${options.bodyClass}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <nav class="nav" aria-label="Main">
    <a class="brand" href="/">EPU</a>
    <div class="nav-links">
      ${navLink('/', 'Events', section === 'home')}
      ${
        viewer
          ? html`${navLink('/events/new', 'New event', section === 'new')}
          ${navLink('/me', viewer.name, section === 'me')}
          ${viewer.role === 'admin' ? navLink('/admin', 'Admin', section === 'admin') : ''}
          <form method="post" action="/logout" class="inline"><button class="link" type="submit">Sign out</button></form>`
          : html`${navLink('/login', 'Sign in', section === 'login')}
          <a class="button small" href="/signup"${section === 'signup' ? html` aria-current="page"` : ''}>Sign up</a>`
      }
    </div>
  </nav>
</header>
<main id="main" tabindex="-1">
${options.body}
</main>
<footer class="foot"><p>EPU · events and photos, shared</p></footer>
</body>
</html>`.value;
}

export function formErrors(problems: { field: string; problem: string }[] | string | undefined): SafeHtml {
  if (!problems || problems.length === 0) return html``;
  const items = typeof problems === 'string' ? [problems] : problems.map((p) => (p.field ? `${p.field}: ${p.problem}` : p.problem));
  return html`<div class="alert" role="alert" tabindex="-1" id="form-errors"><p><strong>Please fix this:</strong></p><ul>${items.map((item) => html`<li>${item}</li>`)}</ul></div>`;
}

export function errorPage(options: { status: number; title: string; message: string; requestId?: string; viewer: Viewer | null }): string {
  return page({
    title: options.title,
    viewer: options.viewer,
    body: html`<section class="error-page">
  <p class="error-status">${options.status}</p>
  <h1>${options.title}</h1>
  <p>${options.message}</p>
  ${options.requestId ? html`<p class="muted">Request id: <code>${options.requestId}</code></p>` : ''}
  <p><a class="button" href="/">Back to events</a></p>
</section>`,
  });
}
