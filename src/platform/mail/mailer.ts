// Outbound mail behind one small interface. SMTP_URL set: messages go out over
// SMTP (nodemailer). Unset: development and tests keep each message in the dev
// mailbox (files under EPU_DATA_DIR, shown at /dev/mailbox) and print it to the
// log; staging and production send nothing and log only that a message was
// dropped, never its text (a reset link is a credential). Features never call
// this from a request: they enqueue a job, and the worker sends, with the
// queue's retries (decision 0041).
import nodemailer from 'nodemailer';
import type { Logger } from '../observability/logger.js';
import { createDevMailbox, type DevMailbox } from './dev-mailbox.js';

export interface MailAttachment {
  filename: string;
  /** With its parameters: `text/calendar; charset=utf-8; method=REQUEST`. */
  contentType: string;
  content: string;
}

export interface MailMessage {
  to: { name: string; email: string };
  subject: string;
  text: string;
  attachments?: MailAttachment[];
}

export interface Mailer {
  /** Which way messages go: over SMTP, into the dev mailbox, or nowhere. */
  readonly transport: 'smtp' | 'dev-mailbox' | 'off';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

export interface MailerSettings {
  smtpUrl: string | undefined;
  /** The From header: `EPU <no-reply@example.org>`. */
  from: string;
  /** Development and tests: unset SMTP_URL keeps messages in the dev mailbox. */
  devMailboxDir: string | undefined;
  logger: Logger;
}

// CR, LF and other controls never reach a header (a title or a name with a newline cannot add one).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f]+/g;
export const headerText = (value: string) => value.replace(CONTROLS, ' ').trim();

/** The bare address of a From value: `no-reply@example.org` of `EPU <no-reply@example.org>`. */
export const addressOf = (from: string) => /<([^<>]+)>$/.exec(from)?.[1] ?? from;

/** A slow or silent server fails the attempt (and the queue retries) instead of holding a worker slot. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

function smtpMailer(url: string, from: string): Mailer {
  const transporter = nodemailer.createTransport({ url, ...SMTP_TIMEOUTS });
  return {
    transport: 'smtp',
    async send(message) {
      await transporter.sendMail({
        from,
        to: { name: headerText(message.to.name), address: message.to.email },
        subject: headerText(message.subject),
        text: message.text,
        attachments: message.attachments?.map((attachment) => ({ ...attachment, contentDisposition: 'attachment' as const })),
      });
    },
    async close() {
      transporter.close();
    },
  };
}

function devMailer(mailbox: DevMailbox, from: string, logger: Logger): Mailer {
  return {
    transport: 'dev-mailbox',
    async send(message) {
      const id = await mailbox.put({ ...message, from, subject: headerText(message.subject) });
      // Development only: the text, links included, so a developer can follow one from the terminal.
      logger.info({ mailbox: id, to: message.to.email, subject: message.subject, text: message.text }, 'mail kept in the dev mailbox');
    },
    async close() {},
  };
}

function offMailer(logger: Logger): Mailer {
  return {
    transport: 'off',
    async send(message) {
      // Neither the text nor the address: the text may hold a reset link.
      logger.warn({ subject: headerText(message.subject) }, 'mail not sent: SMTP_URL is not set');
    },
    async close() {},
  };
}

/**
 * `.invalid` never resolves (RFC 6761): seeded accounts and scrubbed staging
 * copies use it, and a message to one would only bounce and die in the queue.
 */
const undeliverable = (email: string) => /\.invalid$/i.test(email.trim());

function transportFor(settings: MailerSettings): Mailer {
  if (settings.smtpUrl) return smtpMailer(settings.smtpUrl, settings.from);
  if (settings.devMailboxDir) return devMailer(createDevMailbox(settings.devMailboxDir), settings.from, settings.logger);
  return offMailer(settings.logger);
}

export function createMailer(settings: MailerSettings): Mailer {
  const mailer = transportFor(settings);
  return {
    transport: mailer.transport,
    async send(message) {
      if (undeliverable(message.to.email)) settings.logger.debug('mail not sent: the address is under .invalid');
      else await mailer.send(message);
    },
    close: () => mailer.close(),
  };
}
