// Entry point for Cloud Run functions (functions-framework): the same handlers
// `epu functions` serves, registered by name. Deploy with, for example:
//   gcloud functions deploy auditLog --gen2 --runtime=nodejs22 --source=. \
//     --entry-point=auditLog --trigger-http --no-allow-unauthenticated
//   gcloud functions deploy photoUploaded --gen2 --runtime=nodejs22 --source=. \
//     --entry-point=photoUploaded --trigger-event-filters=type=google.cloud.storage.object.v1.finalized \
//     --trigger-event-filters=bucket=MEDIA_BUCKET
// with the same settings as the other processes (DATABASE_URL, STORAGE_URL, SECRET_KEY...).
import * as functions from '@google-cloud/functions-framework';
import { createFunctionHandlers, createPlatform } from '../app.js';
import { parseConfig } from '../config/env.js';
import type { FunctionName } from '../platform/functions/invoker.js';
import type { EpuFunction } from '../platform/functions/cloud-event.js';

type Event = Parameters<EpuFunction>[0];

// Built on the first event, so a cold start that gets no event opens no connections.
let handlers: ReturnType<typeof createFunctionHandlers> | undefined;
async function handler(name: FunctionName) {
  handlers ??= createFunctionHandlers(await createPlatform(parseConfig(), 'functions'));
  return handlers[name];
}

functions.cloudEvent('auditLog', async (event: Event) => (await handler('auditLog'))(event as never));
functions.cloudEvent('photoUploaded', async (event: Event) => (await handler('photoUploaded'))(event as never));
