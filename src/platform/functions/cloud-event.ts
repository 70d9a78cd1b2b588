import crypto from 'node:crypto';
import { isoStringAt } from '../iso-time.js';
import type { CloudEventFunction } from '@google-cloud/functions-framework';
import { injectTraceContext } from '../observability/tracing.js';

/** The CloudEvent attributes EPU uses (JSON form, as carried in a job payload). */
export interface EpuCloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: 'application/json';
  data: T;
  /** W3C trace context, as the CloudEvents distributed-tracing extension. */
  traceparent?: string;
  tracestate?: string;
}

/** Function handlers use the functions-framework signature, so they deploy to Cloud Run functions unchanged. */
export type EpuFunction<T = unknown> = CloudEventFunction<T>;

/** A new event carrying the active trace (the CloudEvents distributed-tracing extension). */
export function newCloudEvent<T>(
  type: string,
  source: string,
  data: T,
  trace: Record<string, string> = injectTraceContext(),
): EpuCloudEvent<T> {
  return {
    specversion: '1.0',
    id: crypto.randomUUID(),
    source,
    type,
    time: isoStringAt(Date.now()),
    datacontenttype: 'application/json',
    data,
    ...(trace.traceparent ? { traceparent: trace.traceparent } : {}),
    ...(trace.tracestate ? { tracestate: trace.tracestate } : {}),
  };
}
