import type { Kysely, Transaction } from 'kysely';
import { Type, type Static } from 'typebox';
import type { JobHandler, Queue } from '../queue/index.js';
import type { EpuCloudEvent } from './cloud-event.js';
import { FUNCTION_NAMES, type FunctionName, type FunctionsInvoker } from './invoker.js';

export const DELIVER_JOB = 'functions.deliver';

/** `functions.deliver`'s payload: the function and its CloudEvent (cloud-event.ts). */
export const DeliverPayload = Type.Object({
  function: Type.Enum(FUNCTION_NAMES),
  event: Type.Object({
    specversion: Type.Literal('1.0'),
    id: Type.String(),
    source: Type.String(),
    type: Type.String(),
    time: Type.String(),
    datacontenttype: Type.Literal('application/json'),
    data: Type.Unknown(),
    traceparent: Type.Optional(Type.String()),
    tracestate: Type.Optional(Type.String()),
  }),
});
export type DeliverPayload = Static<typeof DeliverPayload>;

/** The jobs of this module, for the queue's map (src/app/job-payloads.ts). */
export const FUNCTIONS_JOBS = { [DELIVER_JOB]: DeliverPayload };

/**
 * Function calls go through the job queue (a transactional outbox): the event
 * is stored with the action that caused it, and a worker delivers it, retrying
 * with backoff while the function is down. The event id is the job key, and
 * functions are idempotent on it, so a retried delivery does no harm.
 */
/** The event id is the job's key; the event's trace context is the job's. */
function deliveryOptions(event: EpuCloudEvent) {
  const trace = event.traceparent
    ? { traceparent: event.traceparent, ...(event.tracestate ? { tracestate: event.tracestate } : {}) }
    : undefined;
  return { key: `event:${event.id}`, maxAttempts: 12, trace };
}

export function createFunctionsDispatcher(queue: Queue<typeof FUNCTIONS_JOBS>) {
  return {
    emit(name: FunctionName, event: EpuCloudEvent, executor?: Kysely<any> | Transaction<any>): Promise<string> {
      return queue.enqueue(DELIVER_JOB, { function: name, event } satisfies DeliverPayload, { ...deliveryOptions(event), executor });
    },
  };
}

export type FunctionsDispatcher = ReturnType<typeof createFunctionsDispatcher>;

export function deliverJobHandler(invoker: FunctionsInvoker): JobHandler<DeliverPayload> {
  return async (job) => {
    const { function: name, event } = job.payload;
    await invoker.invoke(name, event);
  };
}
