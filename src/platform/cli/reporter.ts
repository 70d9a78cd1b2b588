// Commands print human-readable lines on a terminal and JSON lines otherwise
// (CI logs, scripts, CronJobs), and fail with exit code 1 and a one-line reason.

export interface Reporter {
  /** A step or a progress update. */
  step(message: string, data?: Record<string, unknown>): void;
  /** The command's outcome. */
  result(message: string, data?: Record<string, unknown>): void;
  /** Writes the reason and exits: 1 for a failure, 2 when the command was called wrongly and did not run. */
  fail(reason: string, data?: Record<string, unknown>, exitCode?: 1 | 2): never;
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
    fail(reason, data, exitCode = 1) {
      write('error', reason, exitCode === 1 ? data : { ...data, exitCode });
      process.exit(exitCode);
    },
  };
}
