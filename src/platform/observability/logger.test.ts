import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { batchedLines, LINE_BATCH } from './logger.js';

/** The `msg` of each JSON line a process wrote, in order. */
const messagesIn = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).msg);

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
  it('hands the stream the lines of one window as one write, in order', () => {
    vi.useFakeTimers();
    try {
      const writes: string[] = [];
      const destination = batchedLines({ write: (text: string) => writes.push(text) });
      destination.write('a\n');
      vi.advanceTimersByTime(LINE_BATCH.ms - 1);
      destination.write('b\n');
      destination.write('c\n');
      expect(writes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(writes).toEqual(['a\nb\nc\n']);
      // The next line opens a window of its own.
      destination.write('d\n');
      vi.advanceTimersByTime(LINE_BATCH.ms - 1);
      expect(writes).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
      vi.advanceTimersByTime(10 * LINE_BATCH.ms);
      expect(writes).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('hands over a full batch at once, without waiting for its window', () => {
    vi.useFakeTimers();
    try {
      const writes: string[] = [];
      const destination = batchedLines({ write: (text: string) => writes.push(text) });
      const lines = Array.from({ length: LINE_BATCH.lines + 1 }, (_, i) => `${i}\n`);
      for (const line of lines) destination.write(line);
      expect(writes).toEqual([lines.slice(0, -1).join('')]);
      // The line after a full batch opens a window of its own.
      vi.advanceTimersByTime(LINE_BATCH.ms - 1);
      expect(writes).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(writes).toEqual([lines.slice(0, -1).join(''), lines.at(-1)]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('hands the pending lines over on flush, then flushes the stream', () => {
    const writes: string[] = [];
    const flushed = vi.fn();
    const destination = batchedLines({ write: (text: string) => writes.push(text), flush: (callback) => callback?.() });
    destination.write('a\n');
    destination.flush(flushed);
    expect(writes).toEqual(['a\n']);
    expect(flushed).toHaveBeenCalledOnce();
  });

  it("keeps a command's lines in order with what it writes to stdout itself", async () => {
    const command = await inChildProcess(
      `const logger = createLogger({ level: 'info', pretty: false, name: 'cli-test', batched: false });
       logger.info('logged first');
       await new Promise((resolve) => setTimeout(resolve, 1));
       process.stdout.write(JSON.stringify({ msg: 'reported after' }) + '\\n');
       process.exit(1);`,
    );
    expect(messagesIn(command.stdout)).toEqual(['logged first', 'reported after']);
  });

  it('writes out the pending lines when the process exits, crashes, or runs out of work', async () => {
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

    // Nothing left to do: the window's timer does not keep the process alive, and its exit writes the line.
    const ends = await inChildProcess(
      `const logger = createLogger({ level: 'info', pretty: false, name: 'end-test' });
       logger.info('last words');`,
    );
    expect(ends.code).toBe(0);
    expect(messagesIn(ends.stdout)).toEqual(['last words']);
  });
});
