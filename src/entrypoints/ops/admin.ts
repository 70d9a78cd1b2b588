import readline from 'node:readline';
import type { Config } from '../../config/env.js';
import { createPlatform, createServices } from '../../app.js';
import { createRootLogger } from '../../app.js';
import { parseCommandArgs, subcommandOf, UsageError } from '../../platform/cli/args.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { validate } from '../../platform/http/validation.js';
import { Email, Password } from '../../features/accounts/accounts.schema.js';

async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY) throw new Error('set EPU_ADMIN_PASSWORD: there is no terminal to ask for the password');
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const ask = (question: string) =>
    new Promise<string>((resolve) => {
      process.stdout.write(question);
      // Hide typed characters: the password must not stay on screen.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
      rl.question('', (answer) => {
        process.stdout.write('\n');
        resolve(answer);
      });
    });
  try {
    const first = await ask('Password for the admin: ');
    const second = await ask('Once more: ');
    if (first !== second) throw new Error('the two passwords differ');
    return first;
  } finally {
    rl.close();
  }
}

/** `epu admin create --email EMAIL`: creates an admin or promotes an existing user. */
const USAGE = 'usage: epu admin create --email EMAIL [--name NAME]';

export async function runAdmin(config: Config, args: string[]): Promise<void> {
  const report: Reporter = createReporter('admin');
  const { values, positionals } = parseCommandArgs(args, { email: { type: 'string' }, name: { type: 'string' } }, USAGE);
  subcommandOf(positionals, { create: [] }, USAGE);
  const email = values.email;
  if (typeof email !== 'string') throw new UsageError(`missing --email; ${USAGE}`, 2);
  validate(Email, email);
  const password = config.operatorPasswords.admin ?? (await promptPassword());
  try {
    validate(Password, password);
  } catch {
    report.fail('the password must be 8 to 200 characters');
  }
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    const { user, created } = await createServices(platform).accounts.createOrPromoteAdmin({
      email,
      password,
      name: values.name,
    });
    report.result(created ? 'admin created' : 'existing user promoted to admin', { id: user.id, role: user.role });
  } finally {
    await platform.close();
  }
}
