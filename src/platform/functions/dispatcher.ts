import type { Kysely, Transaction } from 'kysely';
import type { OutboxJob, Queue } from '../queue/index.js';
import type { EpuCloudEvent } from './cloud-event.js';
import type { FunctionName, FunctionsInvoker } from './invoker.js';

export const DELIVER_JOB = 'functions.deliver';

export interface DeliverPayload {
  function: FunctionName;
  event: EpuCloudEvent;
}

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

export function createFunctionsDispatcher(queue: Queue) {
  return {
    emit(name: FunctionName, event: EpuCloudEvent, executor?: Kysely<any> | Transaction<any>): Promise<string> {
      return queue.enqueue(DELIVER_JOB, { function: name, event } satisfies DeliverPayload, { ...deliveryOptions(event), executor });
    },

    /** The delivery as a job for the caller's own statement to write (Queue.outbox). */
    outbox(name: FunctionName, event: EpuCloudEvent): OutboxJob {
      return queue.outbox(DELIVER_JOB, { function: name, event } satisfies DeliverPayload, deliveryOptions(event));
    },
  };
}

export type FunctionsDispatcher = ReturnType<typeof createFunctionsDispatcher>;

export function deliverJobHandler(invoker: FunctionsInvoker) {
  return async (job: { payload: unknown }) => {
    const { function: name, event } = job.payload as DeliverPayload;
    await invoker.invoke(name, event);
  };
}
