import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { turnBatched } from './logger.js';

/** The `msg` of each JSON line a process wrote, in order. */
const messagesIn = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).msg);

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Runs `body` in a fresh Node process with `createLogger` in scope; its exit code and what it wrote to stdout. */
async function inChildProcess(body: string): Promise<{ code: number; stdout: string }> {
  const loggerModule = JSON.stringify(fileURLToPath(new URL('./logger.ts', import.meta.url)));
  const script = `const { createLogger } = await import(${loggerModule});\n${body}`;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('the process logger destination', () => {
  it('hands the stream the lines of one turn of the event loop as one write, in order', async () => {
    const writes: string[] = [];
    const destination = turnBatched({ write: (text: string) => writes.push(text) });
    destination.write('a\n');
    destination.write('b\n');
    destination.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    destination.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
    await nextTurn();
    expect(writes).toHaveLength(2);
  });

  it('writes out the lines of the last turn when the process exits, and when it crashes', async () => {
    const exits = await inChildProcess(
      `const logger = createLogger({ level: 'info', pretty: false, name: 'exit-test' });
       logger.info('first'); logger.warn('second'); process.exit(3);`,
    );
    expect(exits.code).toBe(3);
    expect(messagesIn(exits.stdout)).toEqual(['first', 'second']);

    const crashes = await inChildProcess(
      `const logger = createLogger({ level: 'info', pretty: false, name: 'crash-test' });
       setTimeout(() => { logger.info('before the crash'); throw new Error('boom'); }, 10);`,
    );
    expect(crashes.code).toBe(1);
    expect(messagesIn(crashes.stdout)).toEqual(['before the crash']);
  });
});
