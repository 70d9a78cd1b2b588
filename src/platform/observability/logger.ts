import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../../config/env.js';
import { isoStringAt } from '../iso-time.js';
import { requestIdField } from '../http/request-context.js';

export type { Logger };

// Personal data and credentials never reach the logs: these paths are censored
// wherever they appear in a logged object (one or two levels deep).
export const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'newPassword',
  '*.newPassword',
  'email',
  '*.email',
  '*.*.email',
  'ip',
  '*.ip',
  'remoteAddress',
  '*.remoteAddress',
  'token',
  '*.token',
  'headers.cookie',
  '*.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  'headers["set-cookie"]',
  '*.headers["set-cookie"]',
  'headers["x-forwarded-for"]',
  '*.headers["x-forwarded-for"]',
  'DATABASE_URL',
  'SECRET_KEY',
];

export interface LoggerSettings {
  level: Config['logLevel'];
  pretty: boolean;
  name: string;
  mixin?: () => Record<string, unknown>;
  /**
   * Lines wait to leave together (batchedLines): for the long-running roles. A command writes each line at
   * once, since its report lines (platform/cli/reporter.ts) share stdout and come after what it logged before them.
   */
  batched?: boolean;
}

export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  return {
    level: settings.level,
    name: settings.name,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: () => `,"time":"${isoStringAt(Date.now())}"`,
    formatters: { level: (label) => ({ level: label }) },
    ...(settings.mixin ? { mixin: settings.mixin } : {}),
    ...(settings.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

/**
 * A pino mixin: every line logged inside a span carries its `traceId` and
 * `spanId`, so a log line leads to its trace and back. Nothing when tracing is off.
 */
export function traceContextMixin(): Record<string, unknown> {
  const spanContext = trace.getActiveSpan()?.spanContext();
  // A fresh object each time: pino merges the line's fields into it.
  return spanContext && isSpanContextValid(spanContext) ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : {};
}

/**
 * The mixin of EPU's process loggers: a line logged while serving a request
 * carries its `requestId` (the HTTP server gives requests no child logger of
 * their own), and a line logged inside a span its trace.
 */
export function logContextMixin(): Record<string, unknown> {
  return { ...requestIdField(), ...traceContextMixin() };
}

export function createLogger(settings: LoggerSettings): Logger {
  const options = loggerOptions(settings);
  if (settings.pretty) return pino(options);
  if (settings.batched === false) return pino(options, pino.destination({ dest: 1, sync: true }));
  // Lines go out asynchronously and together (batchedLines), instead of one
  // write(2) per line on the request path. pino flushes what is queued
  // synchronously when the process exits, crash included.
  return pino(options, batchedLines(pino.destination({ dest: 1, sync: false })));
}

/** How long a line waits for others to leave with it, and how many lines leave at once at most. */
export const LINE_BATCH = { ms: 10, lines: 256 };

/** Every batched destination's pending lines, written out before pino's own exit handler flushes its streams. */
const pendingAtExit = new Set<() => void>();

/**
 * A destination that hands `stream` the lines logged within LINE_BATCH.ms of
 * the first one (or LINE_BATCH.lines of them, if sooner) as one string, in
 * order. pino's stream (sonic-boom) measures the byte length of everything it
 * holds on each write, so one string per batch keeps a line's cost flat
 * (decision 0052). A window rather than one event-loop turn: a turn of a web
 * serving gallery pages held about five requests' lines, so about one request
 * in five paid a write(2) handed to a libuv thread; within 10 ms it is one in
 * sixteen (decision 0065).
 * At exit the pending lines leave before pino writes out what its stream holds.
 */
export function batchedLines(stream: {
  write(text: string): unknown;
  flush?(callback?: (error?: Error) => void): void;
}): DestinationStream & {
  flush(callback?: (error?: Error) => void): void;
} {
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  if (pendingAtExit.size === 0) process.prependListener('exit', () => pendingAtExit.forEach((drainPending) => drainPending()));
  pendingAtExit.add(drain);
  return {
    write(line: string) {
      pending.push(line);
      if (pending.length >= LINE_BATCH.lines) drain();
      // Unreferenced: a process with nothing else to do exits, and its exit hands the lines over.
      else if (timer === undefined) timer = setTimeout(drain, LINE_BATCH.ms).unref();
    },
    // pino's logger.flush() (a clean shutdown's last step) reaches the stream through this.
    flush(callback) {
      drain();
      if (stream.flush) stream.flush(callback);
      else callback?.();
    },
  };
}
