import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { validate } from '../../platform/http/validation.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { Auth } from '../accounts/auth.service.js';
import type { PublicUser } from '../accounts/accounts.service.js';
import { ACCESS, errorResponses } from '../../platform/http/api-schema.js';
import { FlagList, FlagParams, FlagSchema, PutFlagBody, StaleFlagList, StaleQuery } from './flags.schema.js';
import type { FlagsService, FlagUpdate } from './flags.service.js';
import { flagsPage } from './views/flags-page.js';

const SAVED_NOTICES: Record<string, string> = { created: 'Created', saved: 'Saved', unchanged: 'Nothing changed for' };

const STALE_DAYS = 30;
type FormBody = Record<string, string | undefined>;

const sendHtml = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);

/** A form's fields as the API's body, so both doors apply one set of rules. */
function updateFromForm(form: FormBody): Record<string, unknown> {
  const rollout = form.rolloutPercentage?.trim() ?? '';
  const update: Record<string, unknown> = {
    enabled: form.enabled === 'true' || form.enabled === 'on',
    rolloutPercentage: /^\d{1,3}$/.test(rollout) ? Number(rollout) : rollout,
  };
  if (form.description !== undefined) update.description = form.description.trim() || null;
  return update;
}

export function flagsRoutes(app: App, deps: { flags: FlagsService; auth: Auth }): void {
  const { flags, auth } = deps;

  const admin = { tags: ['admin'], security: ACCESS.signedIn };

  app.get(
    '/api/v1/admin/flags',
    { schema: { summary: 'Feature flags', ...admin, response: { 200: FlagList, ...errorResponses('forbidden') } } },
    async (request) => {
      await auth.requireAdmin(request);
      return { items: await flags.list() };
    },
  );

  app.get(
    '/api/v1/admin/flags/stale',
    {
      schema: {
        summary: 'Flags fully on or off for at least `days` days (default 30): candidates for removal',
        ...admin,
        querystring: StaleQuery,
        response: { 200: StaleFlagList, ...errorResponses('forbidden') },
      },
    },
    async (request) => {
      await auth.requireAdmin(request);
      const days = request.query.days === undefined ? STALE_DAYS : Number(request.query.days);
      return { days, items: await flags.staleReport(days) };
    },
  );

  app.get(
    '/api/v1/admin/flags/:name',
    {
      schema: {
        summary: 'A feature flag',
        ...admin,
        params: FlagParams,
        response: { 200: FlagSchema, ...errorResponses('forbidden', 'not_found') },
      },
    },
    async (request) => {
      await auth.requireAdmin(request);
      return flags.get(request.params.name);
    },
  );

  app.put(
    '/api/v1/admin/flags/:name',
    {
      schema: {
        summary: 'Create or change a feature flag',
        description: 'Audited; every replica sees the change within 5 s.',
        ...admin,
        params: FlagParams,
        body: PutFlagBody,
        response: { 200: FlagSchema, ...errorResponses('forbidden') },
      },
    },
    async (request) => {
      const admin = await auth.requireAdmin(request);
      const { flag } = await flags.update(request.params.name, request.body, { actorId: admin.id, requestId: request.id, via: 'api' });
      return flag;
    },
  );

  // The admin page: self-contained, so the /admin page can link to it.
  async function pageAdmin(request: FastifyRequest, reply: FastifyReply): Promise<PublicUser | null> {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) {
      await reply.redirect('/login?next=/admin/flags', request.method === 'GET' ? 302 : 303);
      return null;
    }
    return auth.requireAdmin(request);
  }

  async function renderPage(
    viewer: PublicUser,
    extra: { notice?: string; problems?: { field: string; problem: string }[] | string; newFlag?: FormBody } = {},
  ) {
    const [list, stale] = await Promise.all([flags.list(), flags.staleReport(STALE_DAYS)]);
    return flagsPage({ viewer, flags: list, stale, staleDays: STALE_DAYS, ...extra });
  }

  async function saveFromForm(
    request: FastifyRequest,
    reply: FastifyReply,
    viewer: PublicUser,
    name: string,
    form: FormBody,
    isNew: boolean,
  ) {
    try {
      const input: FlagUpdate = validate(PutFlagBody, updateFromForm(form));
      const { changed, created } = await flags.update(name, input, { actorId: viewer.id, requestId: request.id, via: 'page' });
      const notice = created ? 'created' : changed ? 'saved' : 'unchanged';
      return reply.redirect(`/admin/flags?notice=${notice}&flag=${encodeURIComponent(name)}`, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const problems = (error.details as { field: string; problem: string }[] | undefined) ?? error.message;
      return sendHtml(reply, await renderPage(viewer, { problems, newFlag: isNew ? form : undefined }), error.status);
    }
  }

  app.get('/admin/flags', async (request, reply) => {
    const viewer = await pageAdmin(request, reply);
    if (!viewer) return reply;
    const query = request.query as { notice?: string; flag?: string };
    const what = ownEntry(SAVED_NOTICES, query.notice);
    const notice = what && query.flag ? `${what} ${query.flag}.` : undefined;
    return sendHtml(reply, await renderPage(viewer, { notice }));
  });

  app.post('/admin/flags', async (request, reply) => {
    const viewer = await pageAdmin(request, reply);
    if (!viewer) return reply;
    const form = (request.body ?? {}) as FormBody;
    return saveFromForm(request, reply, viewer, form.name?.trim() ?? '', form, true);
  });

  app.post('/admin/flags/:name', { schema: { params: FlagParams } }, async (request, reply) => {
    const viewer = await pageAdmin(request, reply);
    if (!viewer) return reply;
    return saveFromForm(request, reply, viewer, request.params.name, (request.body ?? {}) as FormBody, false);
  });
}
