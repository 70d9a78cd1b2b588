// The dev mailbox (development and tests, SMTP_URL unset): the mail the app would
// have sent. Never registered in staging or production, where these paths are 404.
import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import type { DevMailbox } from '../../platform/mail/dev-mailbox.js';
import { attachmentDisposition } from '../../platform/storage/storage.js';
import type { Auth } from '../accounts/auth.service.js';
import { mailboxPage, mailPage } from './views/mailbox-pages.js';

const MailParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const AttachmentParams = Type.Object({ id: Type.String({ maxLength: 64 }), index: Type.Integer({ minimum: 0, maximum: 99 }) });

export function mailboxRoutes(app: App, deps: { mailbox: DevMailbox; auth: Auth }): void {
  const { mailbox, auth } = deps;
  const found = async (id: string) => {
    const mail = await mailbox.read(id);
    if (!mail) throw new AppError('not_found', 'No such message in the dev mailbox.');
    return mail;
  };

  app.get('/dev/mailbox', async (request, reply) =>
    reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(mailboxPage(await mailbox.list(), await auth.currentUser(request, reply))),
  );

  app.get('/dev/mailbox/:id', { schema: { params: MailParams } }, async (request, reply) =>
    reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(mailPage(await found(request.params.id), await auth.currentUser(request, reply))),
  );

  app.get('/dev/mailbox/:id/attachments/:index', { schema: { params: AttachmentParams } }, async (request, reply) => {
    const attachment = (await found(request.params.id)).attachments?.[request.params.index];
    if (!attachment) throw new AppError('not_found', 'No such attachment.');
    return reply
      .header('cache-control', 'no-store')
      .header('content-disposition', attachmentDisposition(attachment.filename))
      .type(attachment.contentType)
      .send(attachment.content);
  });
}
