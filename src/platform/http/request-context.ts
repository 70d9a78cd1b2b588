import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContext {
  requestId: string;
}

// The request id follows the work a request causes (audit entries, jobs)
// without threading it through every service signature.
const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentRequestId(): string | null {
  return storage.getStore()?.requestId ?? null;
}

/** `{ requestId }` inside a request, `{}` outside one: for a log line. */
export function requestIdField(): { requestId?: string } {
  const context = storage.getStore();
  return context ? { requestId: context.requestId } : {};
}
