import { Writable } from 'node:stream';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLineWriter, type AccessEntry } from './access-log.js';
import { logContextMixin, loggerOptions, type Logger } from './logger.js';

function capturingLogger(level: 'info' | 'warn' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  // The options of EPU's process loggers, mixin included.
  return { logger: pino(loggerOptions({ level, pretty: false, name: 'epu-web', mixin: logContextMixin }), destination), lines };
}

/** The line pino itself writes for the same fields, the way the access line was written before. */
function pinoLine(logger: Logger, entry: AccessEntry): void {
  logger.child({}, { redact: [] })[entry.status >= 500 ? 'error' : 'info']({ ...entry }, 'request');
}

const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":""');

const entry = (overrides: Partial<AccessEntry> = {}): AccessEntry => ({
  requestId: '6dd90b68-2875-4677-9415-41917aa7e000',
  method: 'GET',
  route: '/api/v1/events/:id',
  path: '/api/v1/events/evt_1',
  status: 200,
  ms: 3,
  ...overrides,
});

describe('the access line', () => {
  it('is byte for byte the line pino writes, for paths that need escaping too', () => {
    const hostile = ['/events/"quoted"\\back', '/events/\u0000\u0007\u001b[31mred\r\nforged: line', '/évènements/日本/😀', '/%22%00%ZZ'];
    for (const path of hostile) {
      const ours = capturingLogger();
      const theirs = capturingLogger();
      accessLineWriter(ours.logger)(entry({ path }));
      pinoLine(theirs.logger, entry({ path }));
      expect(ours.lines).toHaveLength(1);
      expect(withoutTime(ours.lines[0]!)).toBe(withoutTime(theirs.lines[0]!));
      // One line, whatever the path holds: a forged line cannot follow it.
      expect(ours.lines[0]!.slice(0, -1)).not.toMatch(/[\r\n]/);
    }
  });

  it('keeps a lone surrogate as an escape, so that the line stays valid JSON', () => {
    const { logger, lines } = capturingLogger();
    accessLineWriter(logger)(entry({ path: '/lone/\ud800/surrogate' }));
    expect(JSON.parse(lines[0]!).path).toBe('/lone/\ud800/surrogate');
  });

  it('is an error line for a 5xx, and lines below the level are not written', () => {
    const { logger, lines } = capturingLogger('warn');
    const write = accessLineWriter(logger);
    write(entry({ status: 200 }));
    write(entry({ status: 404 }));
    write(entry({ status: 503, route: 'unmatched' }));
    expect(lines.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ level: 'error', status: 503, route: 'unmatched' })]);
    const theirs = capturingLogger('warn');
    pinoLine(theirs.logger, entry({ status: 503, route: 'unmatched' }));
    expect(withoutTime(lines[0]!)).toBe(withoutTime(theirs.lines[0]!));
  });

  describe('inside a span', () => {
    const contextManager = new AsyncLocalStorageContextManager();
    beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
    afterAll(() => {
      contextManager.disable();
      context.disable();
    });

    it('carries the trace and span ids, as pino lines do', () => {
      const span = trace.wrapSpanContext({
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
      });
      const ours = capturingLogger();
      const theirs = capturingLogger();
      context.with(trace.setSpan(context.active(), span), () => {
        accessLineWriter(ours.logger)(entry());
        pinoLine(theirs.logger, entry());
      });
      expect(JSON.parse(ours.lines[0]!)).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
      // The same fields and values; pino's order of the mixin's fields depends on the request context.
      expect(JSON.parse(withoutTime(ours.lines[0]!))).toEqual(JSON.parse(withoutTime(theirs.lines[0]!)));
    });
  });
});
