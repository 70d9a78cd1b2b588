// A real SMTP server in the test process (smtp-server), which parses every
// message it accepts (mailparser) so a test reads what a mail client would.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { eventually } from './app.js';

export interface TestSmtpServer {
  /** SMTP_URL for the app, with the credentials the server demands. */
  url: string;
  received: ParsedMail[];
  /** Temporary failures (451) to answer before accepting messages again. */
  refuseNext(count: number): void;
  /** The first message to `address` that `matches` accepts, waiting for it to arrive. */
  messageTo(address: string, matches?: (mail: ParsedMail) => boolean): Promise<ParsedMail>;
  close(): Promise<void>;
}

const USER = 'epu-test';
const PASSWORD = 'smtp test password';

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ParsedMail[] = [];
  let refusals = 0;
  const server = new SMTPServer({
    // Plain SMTP with AUTH on loopback: enough to prove the URL's credentials are used.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: USER });
      else callback(new Error('invalid credentials'));
    },
    onData(stream, _session, callback) {
      if (refusals > 0) {
        refusals -= 1;
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('try again later'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          received.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const to = (mail: ParsedMail) =>
    (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).flatMap((a) => a.value.map((v) => v.address?.toLowerCase()));
  return {
    url: `smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
    received,
    refuseNext(count) {
      refusals = count;
    },
    messageTo(address, matches = () => true) {
      return eventually(
        async () => received.find((mail) => to(mail).includes(address.toLowerCase()) && matches(mail)),
        20_000,
        `a message to ${address}`,
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
