// Options of the operations commands, parsed by node:util's parseArgs:
// an unknown option or a missing value is refused with the command's usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `args` after the command words; positionals are allowed, anything not in `options` is refused. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's message is one sentence and then advice about `--`; the sentence and the usage say it better.
    throw new UsageError(`${(error as Error).message.split('. ')[0]}; ${usage}`);
  }
}

/** `--to URL`: another store (file:// or s3://, with the S3 settings of STORAGE_URL). */
export function storageUrlOption(flag: string, value: string): string {
  if (!/^(file|s3):\/\//.test(value)) throw new UsageError(`${flag} needs a file:// or s3:// URL`);
  return value;
}
