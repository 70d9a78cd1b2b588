// Commands print human-readable lines on a terminal and JSON lines otherwise
// (CI logs, scripts, CronJobs), and fail with exit code 1 and a one-line reason.

export interface Reporter {
  /** A step or a progress update. */
  step(message: string, data?: Record<string, unknown>): void;
  /** The command's outcome. */
  result(message: string, data?: Record<string, unknown>): void;
  fail(reason: string, data?: Record<string, unknown>): never;
}

export function createReporter(command: string, stream: NodeJS.WriteStream = process.stdout): Reporter {
  const human = Boolean(stream.isTTY);
  const write = (kind: string, message: string, data?: Record<string, unknown>) => {
    if (human) {
      const details =
        data && Object.keys(data).length
          ? '  ' +
            Object.entries(data)
              .map(
                ([k, v]) =>
                  `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean | bigint | undefined)}`,
              )
              .join(' ')
          : '';
      (kind === 'error' ? process.stderr : stream).write(
        `${kind === 'error' ? 'error: ' : kind === 'result' ? '✔ ' : '· '}${message}${details}\n`,
      );
    } else {
      (kind === 'error' ? process.stderr : stream).write(
        JSON.stringify({ at: new Date().toISOString(), command, kind, message, ...data }) + '\n',
      );
    }
  };
  return {
    step: (message, data) => write('step', message, data),
    result: (message, data) => write('result', message, data),
    fail(reason, data) {
      write('error', reason, data);
      process.exit(1);
    },
  };
}

/** Parses `--name value` and `--flag` arguments after the command words. */
export function parseFlags(args: string[]): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  // No prototype: a flag named --__proto__ or --constructor is just a flag.
  const flags: Record<string, string | true> = Object.create(null);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      if (inline !== undefined) flags[name] = inline;
      else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) flags[name] = args[++i]!;
      else flags[name] = true;
    } else positional.push(arg);
  }
  return { positional, flags };
}
