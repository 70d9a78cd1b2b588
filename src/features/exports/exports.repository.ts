import { sql, type Transaction } from 'kysely';
import type { Database, ExportStatus } from '../../platform/db/schema.js';
import type { Db } from '../../platform/db/pool.js';

export interface ExportRow {
  id: string;
  requester_id: string | null;
  event_id: string | null;
  status: ExportStatus;
  object_key: string | null;
  bytes: number | null;
  error: string | null;
  created_at: Date;
  ready_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = [
  'id',
  'requester_id',
  'event_id',
  'status',
  'object_key',
  'bytes',
  'error',
  'created_at',
  'ready_at',
  'expires_at',
] as const;

export function createExportsRepository(db: Db) {
  return {
    insert(executor: Transaction<Database>, requesterId: string, eventId: string | null): Promise<ExportRow> {
      return executor
        .insertInto('exports')
        .values({ requester_id: requesterId, event_id: eventId })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    },
    /**
     * Holds, until the transaction ends, the one lock of this requester's
     * exports of `eventId` (null: their own data), so that of concurrent
     * requests one looks for a pending export and starts one at a time.
     */
    async lockRequests(executor: Transaction<Database>, requesterId: string, eventId: string | null): Promise<void> {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`exports:${requesterId}:${eventId ?? 'own'}`}, 0))`.execute(executor);
    },
    /**
     * The requester's export of `eventId` (null: their own data) that no worker has started yet, if any:
     * it will read the data after this request, and the contract answers a request `queued` (decision 0036).
     */
    findQueued(executor: Transaction<Database>, requesterId: string, eventId: string | null): Promise<ExportRow | undefined> {
      return executor
        .selectFrom('exports')
        .select(COLUMNS)
        .where('requester_id', '=', requesterId)
        .where((eb) => (eventId === null ? eb('event_id', 'is', null) : eb('event_id', '=', eventId)))
        .where('status', '=', 'queued')
        .executeTakeFirst();
    },
    findById(id: string): Promise<ExportRow | undefined> {
      return db.selectFrom('exports').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    },
    listForRequester(requesterId: string, limit: number): Promise<ExportRow[]> {
      return db
        .selectFrom('exports')
        .select(COLUMNS)
        .where('requester_id', '=', requesterId)
        .orderBy('created_at', 'desc')
        .limit(limit)
        .execute();
    },
    async markRunning(id: string): Promise<void> {
      await db
        .updateTable('exports')
        .set({ status: 'running', error: null })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running'])
        .execute();
    },
    async markReady(id: string, objectKey: string, bytes: number, expiresAt: Date): Promise<boolean> {
      const result = await db
        .updateTable('exports')
        .set({ status: 'ready', object_key: objectKey, bytes, ready_at: new Date(), expires_at: expiresAt })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async markFailed(id: string, error: string): Promise<void> {
      await db
        .updateTable('exports')
        .set({ status: 'failed', error: error.slice(0, 500) })
        .where('id', '=', id)
        .where('status', '!=', 'ready')
        .execute();
    },
    /** Ready exports past their expiry: the retention sweep deletes their objects, then forgets the key. */
    listExpired(now: Date, limit: number): Promise<ExportRow[]> {
      return db
        .selectFrom('exports')
        .select(COLUMNS)
        .where('object_key', 'is not', null)
        .where('expires_at', '<', now)
        .limit(limit)
        .execute();
    },
    // What goes into the archives.
    eventBookings(eventId: string) {
      return db
        .selectFrom('bookings as b')
        .innerJoin('users as u', 'u.id', 'b.user_id')
        .select(['b.id', 'b.status', 'b.created_at', 'b.cancelled_at', 'u.id as user_id', 'u.name as user_name'])
        .where('b.event_id', '=', eventId)
        .orderBy('b.created_at')
        .execute();
    },
    userBookings(userId: string) {
      return db
        .selectFrom('bookings as b')
        .innerJoin('events as e', 'e.id', 'b.event_id')
        .select([
          'b.id',
          'b.status',
          'b.created_at',
          'b.cancelled_at',
          'e.id as event_id',
          'e.title as event_title',
          'e.starts_at as event_starts_at',
        ])
        .where('b.user_id', '=', userId)
        .orderBy('b.created_at')
        .execute();
    },
    user(userId: string) {
      return db.selectFrom('users').select(['id', 'email', 'name', 'role', 'created_at']).where('id', '=', userId).executeTakeFirst();
    },
    async clearObject(id: string): Promise<void> {
      await db.updateTable('exports').set({ object_key: null }).where('id', '=', id).execute();
    },
  };
}

export type ExportsRepository = ReturnType<typeof createExportsRepository>;
