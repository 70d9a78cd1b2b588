// Options of every `epu` command, parsed by node:util's parseArgs, one way:
// an unknown option, a missing value or a value given to a switch is refused
// with one line naming the option and the command's usage, and exit code 2
// (the command did not run), like an unknown command.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionConfig = NonNullable<ParseArgsConfig['options']>[string] & {
  /** What the value must be, for the refusal when it is missing: "a whole number from 1 to 10000". */
  expects?: string;
};
type Options = Record<string, OptionConfig>;

/** The command was called wrongly; `exitCode` 2 when it did not run at all (see parseCommandArgs). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Node's error, said the same way for every command. */
function refusal(error: Error & { code?: string }, args: string[], options: Options): string {
  const named = error.message.match(/'(-{1,2}[^' ]+)/)?.[1] ?? '';
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${named}`;
  // (Positionals are always allowed: each command checks its own with operandsOf or subcommandOf.)
  if (/does not take an argument/.test(error.message)) return `${named} takes no value`;
  // A missing value, or one that looks like an option (`--users -3`: give it as --users=-3).
  const config = options[named.replace(/^-+/, '')];
  const given = args[args.indexOf(named) + 1];
  return `${named} expects ${config?.expects ?? 'a value'}, got ${given === undefined ? 'nothing' : JSON.stringify(given)}`;
}

/** `args` after the command words; positionals are allowed, anything not in `options` is refused. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${refusal(error as Error, args, options)}; ${usage}`, 2);
  }
}

/**
 * The subcommand of a command that takes one (`epu jobs run NAME`): the first
 * positional, a key of `subcommands`, followed by exactly the operands its
 * entry names. A missing or unknown subcommand, a missing operand or one too
 * many is refused like an unknown option, before the command starts anything.
 */
export function subcommandOf<S extends string>(
  positionals: string[],
  subcommands: Readonly<Record<S, readonly string[]>>,
  usage: string,
): { subcommand: S; operands: string[] } {
  const [word, ...operands] = positionals;
  if (word === undefined) throw new UsageError(`missing subcommand, one of ${Object.keys(subcommands).join(', ')}; ${usage}`, 2);
  if (!Object.hasOwn(subcommands, word)) throw new UsageError(`unknown subcommand "${word}"; ${usage}`, 2);
  return { subcommand: word as S, operands: operandsOf(operands, subcommands[word as S], usage, ` after "${word}"`) };
}

/**
 * Exactly the operands `names` says (`BACKUP_ID`), in order: a missing one or
 * one too many is refused like an unknown option, before the command starts
 * anything. `where` says after which word they were expected.
 */
export function operandsOf(positionals: string[], names: readonly string[], usage: string, where = ''): string[] {
  // An empty word ('') is as good as none.
  const missing = names.findIndex((_, i) => !positionals[i]);
  if (missing >= 0) throw new UsageError(`missing ${names[missing]}${where}; ${usage}`, 2);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument "${positionals[names.length]}"; ${usage}`, 2);
  return positionals;
}

/** A command that takes no options and no arguments. */
export function noArguments(args: string[], usage: string): void {
  operandsOf(parseCommandArgs(args, {}, usage).positionals, [], usage);
}

/** `--to URL`: another store (file:// or s3://, with the S3 settings of STORAGE_URL). */
export function storageUrlOption(flag: string, value: string): string {
  if (!/^(file|s3):\/\//.test(value)) throw new UsageError(`${flag} needs a file:// or s3:// URL`);
  return value;
}
