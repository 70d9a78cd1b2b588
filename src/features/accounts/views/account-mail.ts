import type { MailMessage } from '../../../platform/mail/mailer.js';

export function passwordResetMail(input: { to: MailMessage['to']; link: string; minutes: number }): MailMessage {
  return {
    to: input.to,
    subject: 'Reset your EPU password',
    text: [
      `Hello ${input.to.name},`,
      '',
      'Someone (we hope you) asked to reset the password of your EPU account. To choose a new one, open this link:',
      '',
      input.link,
      '',
      `It works once, for ${input.minutes} minutes. Setting a new password signs out every device that is signed in.`,
      '',
      'If you did not ask, ignore this message: your password stays as it is.',
    ].join('\n'),
  };
}
