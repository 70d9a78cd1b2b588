import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { Type } from 'typebox';
import { AppError } from '../../platform/http/errors.js';
import { retryAfterSeconds } from '../../platform/rate-limit.js';
import { isUuid } from '../../platform/http/pagination.js';
import type { Db } from '../../platform/db/pool.js';
import type { Queue } from '../../platform/queue/index.js';
import type { ObjectStorage } from '../../platform/storage/storage.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { Viewer } from '../accounts/accounts.types.js';
import type { EventsService } from '../events/events.service.js';
import type { ExportRow, ExportsRepository } from './exports.repository.js';
import { transaction } from '../../platform/db/transaction.js';

export const BUILD_EXPORT_JOB = 'exports.build';
export const BuildExportPayload = Type.Object({ exportId: Type.String() }, { additionalProperties: false });
export const BUILD_EXPORT_ATTEMPTS = 3;
const MAX_LINK_SECONDS = 7 * 86_400;
const EXPIRED_BATCH = 100;

export interface ExportJson {
  id: string;
  status: ExportRow['status'];
  eventId: string | null;
  downloadUrl: string | null;
  expiresAt: string | null;
  bytes: number | null;
  createdAt: string;
}

export function createExportsService(deps: {
  db: Db;
  repo: ExportsRepository;
  queue: Queue<{ [BUILD_EXPORT_JOB]: typeof BuildExportPayload }>;
  storage: ObjectStorage;
  events: EventsService;
  audit: AuditRecorder;
  /** Exports one user may start per hour (EXPORT_RATE_LIMIT); a queued one handed out again costs nothing. */
  limiter: RateLimiterAbstract;
}) {
  const { repo } = deps;

  async function toJson(row: ExportRow): Promise<ExportJson> {
    const live = row.status === 'ready' && row.object_key && row.expires_at && row.expires_at.getTime() > Date.now();
    const downloadUrl = live
      ? await deps.storage.signedUrl(row.object_key!, {
          expiresInSeconds: Math.min(MAX_LINK_SECONDS, Math.max(1, Math.floor((row.expires_at!.getTime() - Date.now()) / 1000))),
          downloadName: `epu-export-${row.id.slice(0, 8)}.zip`,
        })
      : null;
    return {
      id: row.id,
      status: row.status,
      eventId: row.event_id,
      downloadUrl,
      expiresAt: row.status === 'ready' ? (row.expires_at?.toISOString() ?? null) : null,
      bytes: row.bytes,
      createdAt: row.created_at.toISOString(),
    };
  }

  /**
   * The requester's queued export of the same thing if there is one (20
   * clicks, or 20 concurrent requests, build one archive), else a new one,
   * which takes a point of the requester's hourly limit. One already being
   * built is not handed out: it may have read the data before this request.
   */
  async function request(viewer: Viewer, eventId: string | null): Promise<ExportJson> {
    const row = await transaction(deps.db, async (tx) => {
      await repo.lockRequests(tx, viewer.id, eventId);
      const queued = await repo.findQueued(tx, viewer.id, eventId);
      if (queued) return queued;
      await deps.limiter.consume(viewer.id).catch((rejection) => {
        throw new AppError('rate_limited', 'Too many exports; wait and try again.', {
          headers: { 'retry-after': String(retryAfterSeconds(rejection)) },
        });
      });
      const created = await repo.insert(tx, viewer.id, eventId);
      await deps.queue.enqueue(
        BUILD_EXPORT_JOB,
        { exportId: created.id },
        { key: `export:${created.id}`, maxAttempts: BUILD_EXPORT_ATTEMPTS, executor: tx },
      );
      await deps.audit.record(
        { action: 'export.request', actorId: viewer.id, subjectType: 'export', subjectId: created.id, metadata: { eventId } },
        tx,
      );
      return created;
    });
    return toJson(row);
  }

  return {
    async requestEventExport(eventId: string, viewer: Viewer): Promise<ExportJson> {
      const event = await deps.events.getManageable(eventId, viewer);
      return request(viewer, event.id);
    },
    requestOwnExport: (viewer: Viewer) => request(viewer, null),

    /** The requester or an admin; anyone else gets 404, as if it did not exist. */
    async get(exportId: string, viewer: Viewer): Promise<ExportJson> {
      const row = isUuid(exportId) ? await repo.findById(exportId) : undefined;
      if (!row || (row.requester_id !== viewer.id && viewer.role !== 'admin')) throw new AppError('not_found', 'No such export.');
      return toJson(row);
    },

    async listMine(viewer: Viewer): Promise<ExportJson[]> {
      return Promise.all((await repo.listForRequester(viewer.id, 20)).map(toJson));
    },

    /** Expired archives (retention): the object goes, then the key, so a failed delete is retried next sweep. */
    async deleteExpired(now: Date): Promise<number> {
      let removed = 0;
      for (;;) {
        const expired = await repo.listExpired(now, EXPIRED_BATCH);
        for (const row of expired) {
          await deps.storage.delete(row.object_key!);
          await repo.clearObject(row.id);
          removed++;
        }
        if (expired.length < EXPIRED_BATCH) return removed;
      }
    },
  };
}

export type ExportsService = ReturnType<typeof createExportsService>;
