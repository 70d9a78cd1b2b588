import type { App } from '../../platform/http/server.js';
import { AppError, ERRORS } from '../../platform/http/errors.js';
import { validate } from '../../platform/http/validation.js';
import { ACCESS, errorResponses, NoContent } from '../../platform/http/api-schema.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { AccountsService } from './accounts.service.js';
import type { Auth } from './auth.service.js';
import {
  LoginBody,
  PasswordChangeBody,
  PasswordResetBody,
  PasswordResetRequestBody,
  ResetRequestedEnvelope,
  SignedInEnvelope,
  SignupBody,
  UserEnvelope,
} from './accounts.schema.js';
import { RESET_LINK_MINUTES } from './accounts.service.js';
import { loginPage, signupPage } from './views/auth-pages.js';
import { forgotPasswordPage, resetLinkInvalidPage, resetPasswordPage, resetRequestedPage } from './views/reset-pages.js';
import { problemsFrom } from '../../ui/forms.js';

// C0 controls and DEL: a browser drops tabs and newlines from a URL, so "/\t/evil.example" becomes "//evil.example".
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Where a `next` parameter may send someone after signing in: a path of this
 * site, resolved against PUBLIC_URL, never another origin ("//evil.example",
 * "/\\evil.example", "https://...") and never with control characters, raw or
 * percent-encoded. Anything else goes to "/".
 */
export function createSafeNext(publicUrl: URL): (next: unknown) => string {
  return (next) => {
    if (typeof next !== 'string' || !next.startsWith('/') || next.length > 2048) return '/';
    let decoded: string;
    try {
      decoded = decodeURIComponent(next);
    } catch {
      return '/';
    }
    if (CONTROL_CHARACTER.test(decoded) || CONTROL_CHARACTER.test(next) || /^\/[/\\]/.test(decoded)) return '/';
    let target: URL;
    try {
      target = new URL(next, publicUrl);
    } catch {
      return '/';
    }
    if (target.origin !== publicUrl.origin) return '/';
    return target.pathname + target.search + target.hash;
  };
}

type FormBody = Record<string, string | undefined>;

const RESET_REQUESTED = `If an account uses this address, a link to choose a new password is on its way; it works once, for ${RESET_LINK_MINUTES} minutes.`;

/**
 * The reset pages carry a live link in their address: no cache keeps them. The
 * site's Referrer-Policy (strict-origin-when-cross-origin) already gives other
 * sites the origin only, and this server logs no Referer.
 */
const keepResetLinkPrivate = (reply: { header(name: string, value: string): unknown }) =>
  reply.header('cache-control', 'private, no-store');

/** Why the account page's password form did not change the password, as a notice key of `/me`. */
const PASSWORD_NOTICES: Record<string, string> = {
  wrong_password: 'password-wrong',
  validation_failed: 'password-invalid',
  rate_limited: 'password-throttled',
};

export function accountsRoutes(app: App, deps: { accounts: AccountsService; auth: Auth; publicUrl: URL }): void {
  const { accounts, auth } = deps;
  const safeNext = createSafeNext(deps.publicUrl);

  app.post(
    '/api/v1/auth/signup',
    {
      schema: {
        summary: 'Create an account and sign in',
        description: 'Sign-ups are limited per address (429 for a while).',
        tags: ['auth'],
        security: ACCESS.anyone,
        body: SignupBody,
        response: { 201: SignedInEnvelope, ...errorResponses('email_taken', 'rate_limited') },
      },
    },
    async (request, reply) => {
      const signedIn = await accounts.signup(request.body, request.ip);
      auth.signIn(reply, signedIn);
      return reply.code(201).send({ user: signedIn.user });
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        summary: 'Sign in',
        description: 'Repeated failures, per account and per address, answer 429 for a while.',
        tags: ['auth'],
        security: ACCESS.anyone,
        body: LoginBody,
        response: { 200: SignedInEnvelope, ...errorResponses('invalid_credentials', 'rate_limited') },
      },
    },
    async (request, reply) => {
      const signedIn = await accounts.login({ ...request.body, address: request.ip });
      auth.signIn(reply, signedIn);
      return { user: signedIn.user };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      schema: {
        summary: 'Sign out: the session ends',
        tags: ['auth'],
        security: ACCESS.anyoneOrSignedIn,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await auth.signOut(request, reply);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/me',
    { schema: { summary: 'Who is signed in', tags: ['auth'], security: ACCESS.signedIn, response: { 200: UserEnvelope } } },
    async (request, reply) => ({ user: await auth.requireUser(request, reply) }),
  );

  app.post(
    '/api/v1/me/password',
    {
      schema: {
        summary: 'Change your password',
        description: 'Every other session ends; this one gets a fresh cookie. A wrong current password counts towards the login throttle.',
        tags: ['auth'],
        security: ACCESS.signedIn,
        body: PasswordChangeBody,
        response: { 200: SignedInEnvelope, ...errorResponses('wrong_password', 'rate_limited') },
      },
    },
    async (request, reply) => {
      const user = await auth.requireUser(request, reply);
      const signedIn = await accounts.changePassword({ user, ...request.body, address: request.ip });
      auth.signIn(reply, signedIn);
      return { user: signedIn.user };
    },
  );

  app.post(
    '/api/v1/auth/password-reset',
    {
      schema: {
        summary: 'Ask for a password reset link by email',
        description:
          'The same answer whether an account uses the address or not. The link works once, for 30 minutes. Requests are limited per client address and per email address (429 for a while).',
        tags: ['auth'],
        security: ACCESS.anyone,
        body: PasswordResetRequestBody,
        response: { 202: ResetRequestedEnvelope, ...errorResponses('rate_limited') },
      },
    },
    async (request, reply) => {
      await accounts.requestPasswordReset({ email: request.body.email, address: request.ip });
      return reply.code(202).send({ message: RESET_REQUESTED });
    },
  );

  app.post(
    '/api/v1/auth/password-reset/confirm',
    {
      schema: {
        summary: 'Set a new password with a reset link',
        description: "`token` is the reset link's `token` parameter. Every session of the account ends; the caller gets a fresh one.",
        tags: ['auth'],
        security: ACCESS.anyone,
        body: PasswordResetBody,
        response: { 200: SignedInEnvelope, ...errorResponses('invalid_reset_link') },
      },
    },
    async (request, reply) => {
      const signedIn = await accounts.resetPassword(request.body);
      auth.signIn(reply, signedIn);
      return { user: signedIn.user };
    },
  );

  // HTML: the same rules through forms, re-rendering the form with what went wrong.
  app.get('/signup', async (request, reply) => {
    const next = safeNext((request.query as { next?: string }).next);
    if (await auth.currentUser(request)) return reply.redirect(next);
    return reply.type('text/html; charset=utf-8').send(signupPage({ next }));
  });

  app.post('/signup', async (request, reply) => {
    const form = (request.body ?? {}) as FormBody;
    const input = { email: form.email ?? '', name: form.name ?? '', password: form.password ?? '' };
    try {
      const signedIn = await accounts.signup(validate(SignupBody, input), request.ip);
      auth.signIn(reply, signedIn);
      return reply.redirect(safeNext(form.next), 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      reply.headers(error.headers);
      const problems = error.code === 'validation_failed' ? (error.details as { field: string; problem: string }[]) : error.message;
      return reply
        .code(error.status)
        .type('text/html; charset=utf-8')
        .send(signupPage({ email: input.email, name: input.name, next: safeNext(form.next), problems }));
    }
  });

  app.get('/login', async (request, reply) => {
    const next = safeNext((request.query as { next?: string }).next);
    if (await auth.currentUser(request)) return reply.redirect(next);
    return reply.type('text/html; charset=utf-8').send(loginPage({ next }));
  });

  app.post('/login', async (request, reply) => {
    const form = (request.body ?? {}) as FormBody;
    const next = safeNext(form.next);
    try {
      const input = validate(LoginBody, { email: form.email ?? '', password: form.password ?? '' });
      const signedIn = await accounts.login({ ...input, address: request.ip });
      auth.signIn(reply, signedIn);
      return reply.redirect(next, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      reply.headers(error.headers);
      return reply
        .code(error.status)
        .type('text/html; charset=utf-8')
        .send(loginPage({ email: form.email, next, problems: error.message }));
    }
  });

  app.get('/forgot-password', async (_request, reply) => reply.type('text/html; charset=utf-8').send(forgotPasswordPage()));

  app.post('/forgot-password', async (request, reply) => {
    const form = (request.body ?? {}) as FormBody;
    const email = form.email ?? '';
    try {
      await accounts.requestPasswordReset({ ...validate(PasswordResetRequestBody, { email }), address: request.ip });
      return reply.type('text/html; charset=utf-8').send(resetRequestedPage(RESET_LINK_MINUTES));
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      reply.headers(error.headers);
      const problems = problemsFrom(error, { email: 'Type the email address of your account, like name@example.com.' });
      return reply
        .code(error.status)
        .type('text/html; charset=utf-8')
        .send(forgotPasswordPage({ email: email.slice(0, 254), problems }));
    }
  });

  app.get('/reset-password', async (request, reply) => {
    const { token } = request.query as { token?: unknown };
    keepResetLinkPrivate(reply);
    if (!(await accounts.resetLinkWorks(token))) {
      return reply.code(400).type('text/html; charset=utf-8').send(resetLinkInvalidPage(ERRORS.invalid_reset_link.message));
    }
    return reply.type('text/html; charset=utf-8').send(resetPasswordPage({ token: token as string }));
  });

  app.post('/reset-password', async (request, reply) => {
    const form = (request.body ?? {}) as FormBody;
    const token = form.token ?? '';
    keepResetLinkPrivate(reply);
    try {
      const input = validate(PasswordResetBody, { token, newPassword: form.newPassword ?? '' });
      auth.signIn(reply, await accounts.resetPassword(input));
      return reply.redirect('/me?notice=password-reset#account', 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const problems = problemsFrom(error, { newPassword: 'Choose a password of 8 to 200 characters.' });
      // A bad password with a working link: the form again. Anything else (the link): say the link does not work.
      const page =
        problems.fields.newPassword && !problems.general
          ? resetPasswordPage({ token, problems })
          : resetLinkInvalidPage(ERRORS.invalid_reset_link.message);
      return reply.code(error.status).type('text/html; charset=utf-8').send(page);
    }
  });

  app.post('/me/password', async (request, reply) => {
    const user = await auth.currentUser(request, reply);
    if (!user) return reply.redirect('/login?next=/me', 303);
    const form = (request.body ?? {}) as FormBody;
    try {
      const input = validate(PasswordChangeBody, { currentPassword: form.currentPassword ?? '', newPassword: form.newPassword ?? '' });
      auth.signIn(reply, await accounts.changePassword({ user, ...input, address: request.ip }));
      return reply.redirect('/me?notice=password-changed#account', 303);
    } catch (error) {
      const notice = error instanceof AppError ? ownEntry(PASSWORD_NOTICES, error.code) : undefined;
      if (!notice) throw error;
      return reply.redirect(`/me?notice=${notice}#account`, 303);
    }
  });

  app.post('/logout', async (request, reply) => {
    await auth.signOut(request, reply);
    return reply.redirect('/', 303);
  });
}
