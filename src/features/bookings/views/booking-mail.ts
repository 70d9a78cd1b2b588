import type { MailMessage } from '../../../platform/mail/mailer.js';
import { scheduleText } from '../../../ui/format.js';

export interface BookingMailInput {
  to: MailMessage['to'];
  change: 'confirmed' | 'cancelled';
  event: { title: string; venue: string; startsAt: Date; endsAt: Date | null; timeZone: string; url: string };
  invitation: { method: 'REQUEST' | 'CANCEL'; file: string };
}

export function bookingMail(input: BookingMailInput): MailMessage {
  const { event, change } = input;
  const when = scheduleText(event);
  const lines =
    change === 'confirmed'
      ? [
          `You have a place at ${event.title}.`,
          '',
          `When: ${when}`,
          ...(event.venue ? [`Where: ${event.venue}`] : []),
          '',
          `The event: ${event.url}`,
          '',
          'The attached invitation (invite.ics) puts it in your calendar. Changed your mind? Cancel on the event page.',
        ]
      : [
          `Your booking of ${event.title} (${when}) is cancelled.`,
          '',
          'The attached file (cancel.ics) takes it out of your calendar.',
          '',
          `The event: ${event.url}`,
        ];
  return {
    to: input.to,
    subject: `${change === 'confirmed' ? 'Booked' : 'Cancelled'}: ${event.title}`,
    text: [`Hello ${input.to.name},`, '', ...lines].join('\n'),
    attachments: [
      {
        filename: change === 'confirmed' ? 'invite.ics' : 'cancel.ics',
        contentType: `text/calendar; charset=utf-8; method=${input.invitation.method}`,
        content: input.invitation.file,
      },
    ],
  };
}
