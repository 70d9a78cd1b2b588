// Forgotten password: ask for a link by email, then choose a new password through it.
import { html } from '../../../platform/http/html.js';
import { page } from '../../../ui/layout.js';
import { errorSummary, field, type FormProblems } from '../../../ui/forms.js';

export function forgotPasswordPage(state: { email?: string; problems?: FormProblems } = {}): string {
  const { problems } = state;
  return page({
    title: 'Forgot your password?',
    viewer: null,
    body: html`<section class="card narrow">
  <h1>Forgot your password?</h1>
  ${errorSummary(problems)}
  <p>Type the email address of your account and we will send you a link to choose a new password.</p>
  <form class="form" method="post" action="/forgot-password" novalidate>
    ${field({
      id: 'email',
      label: 'Email',
      problem: problems?.fields.email,
      control: (a) =>
        html`<input ${a} name="email" type="email" autocomplete="email" required maxlength="254" value="${state.email ?? ''}">`,
    })}
    <button type="submit">Send me a link</button>
  </form>
  <p class="muted"><a href="/login">Back to sign in</a></p>
</section>`,
  });
}

/** The same answer whether an account uses the address or not. */
export function resetRequestedPage(minutes: number): string {
  return page({
    title: 'Check your email',
    viewer: null,
    body: html`<section class="card narrow">
  <h1>Check your email</h1>
  <p role="status">If an account uses that address, a link to choose a new password is on its way. It works once, for ${String(minutes)} minutes.</p>
  <p class="muted">Nothing after a few minutes? Look in your spam folder, or <a href="/forgot-password">ask again</a>.</p>
</section>`,
  });
}

export function resetPasswordPage(state: { token: string; problems?: FormProblems }): string {
  const { problems } = state;
  return page({
    title: 'Choose a new password',
    viewer: null,
    body: html`<section class="card narrow">
  <h1>Choose a new password</h1>
  ${errorSummary(problems)}
  <form class="form" method="post" action="/reset-password" novalidate>
    <input type="hidden" name="token" value="${state.token}">
    ${field({
      id: 'newPassword',
      label: 'New password',
      hint: 'At least 8 characters. Every device signed in to your account will be signed out.',
      problem: problems?.fields.newPassword,
      control: (a) =>
        html`<input ${a} name="newPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="200">`,
    })}
    <button type="submit">Set the new password</button>
  </form>
</section>`,
  });
}

export function resetLinkInvalidPage(message: string): string {
  return page({
    title: 'This link does not work',
    viewer: null,
    body: html`<section class="card narrow">
  <h1>This link does not work</h1>
  <p>${message}</p>
  <p><a href="/forgot-password">Ask for a new link</a></p>
</section>`,
  });
}
