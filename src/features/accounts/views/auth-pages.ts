import { html } from '../../../platform/http/html.js';
import { formErrors, page } from '../../../ui/layout.js';
import type { FieldProblem } from '../../../platform/http/validation.js';

export interface AuthFormState {
  email?: string;
  name?: string;
  next?: string;
  problems?: FieldProblem[] | string;
}

/** Where the other form is, keeping where to go after it (an invited visitor goes back to the event). */
const withNext = (path: string, next: string | undefined) => (next && next !== '/' ? `${path}?next=${encodeURIComponent(next)}` : path);

export function signupPage(state: AuthFormState = {}): string {
  return page({
    title: 'Sign up',
    viewer: null,
    section: 'signup',
    body: html`<section class="card narrow">
  <h1>Create your account</h1>
  ${formErrors(state.problems)}
  <form class="form" method="post" action="/signup">
    <input type="hidden" name="next" value="${state.next ?? ''}">
    <div class="field"><label for="name">Name</label>
      <input id="name" name="name" autocomplete="name" required maxlength="100" value="${state.name ?? ''}"></div>
    <div class="field"><label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" value="${state.email ?? ''}"></div>
    <div class="field"><label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="200" aria-describedby="password-hint">
      <span class="hint" id="password-hint">At least 8 characters.</span></div>
    <button type="submit">Sign up</button>
  </form>
  <p class="muted">Have an account? <a href="${withNext('/login', state.next)}">Sign in</a></p>
</section>`,
  });
}

export function loginPage(state: AuthFormState = {}): string {
  return page({
    title: 'Sign in',
    viewer: null,
    section: 'login',
    body: html`<section class="card narrow">
  <h1>Sign in</h1>
  ${formErrors(state.problems)}
  <form class="form" method="post" action="/login">
    <input type="hidden" name="next" value="${state.next ?? ''}">
    <div class="field"><label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" value="${state.email ?? ''}"></div>
    <div class="field"><label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="200"></div>
    <button type="submit">Sign in</button>
  </form>
  <p class="muted"><a href="/forgot-password">Forgot your password?</a></p>
  <p class="muted">New here? <a href="${withNext('/signup', state.next)}">Create an account</a></p>
</section>`,
  });
}
