import crypto from 'node:crypto';
import type { Static } from 'typebox';
import type { JobHandler } from '../../platform/queue/index.js';
import type { Mailer } from '../../platform/mail/mailer.js';
import type { AccountsRepository } from './accounts.repository.js';
import { RESET_LINK_MINUTES, resetTokenHash, type PasswordResetMailPayload } from './accounts.service.js';
import { passwordResetMail } from './views/account-mail.js';

/**
 * Mails a reset link to the address's account; nothing for an address no
 * account uses. The token is drawn here, in the worker, so it is in no job
 * payload and no table (only its hash): a retry after a failed send draws a
 * new one, and the unsent link it replaces is never known to anyone.
 */
export function passwordResetMailJob(deps: {
  repo: AccountsRepository;
  mailer: Mailer;
  publicUrl: URL;
}): JobHandler<Static<typeof PasswordResetMailPayload>> {
  return async (job) => {
    const user = await deps.repo.findByEmail(job.payload.email);
    if (!user) return { sent: 0 };
    const token = crypto.randomBytes(32).toString('base64url');
    await deps.repo.insertPasswordReset(user.id, resetTokenHash(token), new Date(Date.now() + RESET_LINK_MINUTES * 60_000));
    await deps.mailer.send(
      passwordResetMail({
        to: { name: user.name, email: user.email },
        link: new URL(`/reset-password?token=${token}`, deps.publicUrl).href,
        minutes: RESET_LINK_MINUTES,
      }),
    );
    return { sent: 1 };
  };
}
