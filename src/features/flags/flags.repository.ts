import { sql, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { Db } from '../../platform/db/pool.js';
import { transaction } from '../../platform/db/transaction.js';

export interface FlagRow {
  name: string;
  enabled: boolean;
  rollout_percentage: number;
  metadata: Record<string, unknown>;
  description: string | null;
  updated_at: Date;
  updated_by: string | null;
  state_since: Date;
}

export interface FlagValues {
  enabled: boolean;
  rolloutPercentage: number;
  metadata: Record<string, unknown>;
  description: string | null;
  updatedBy: string | null;
}

const COLUMNS = ['name', 'enabled', 'rollout_percentage', 'metadata', 'description', 'updated_at', 'updated_by', 'state_since'] as const;

/** The statements an update runs inside its transaction. */
function inTransaction(tx: Transaction<Database>) {
  return {
    executor: tx,

    /** The flag, locked until the transaction ends, so concurrent updates of one flag apply one after the other. */
    lock(name: string): Promise<FlagRow | undefined> {
      return tx.selectFrom('feature_flags').select(COLUMNS).where('name', '=', name).forUpdate().executeTakeFirst();
    },

    /** Creates the flag; undefined when a concurrent request created it first. */
    insert(name: string, values: FlagValues): Promise<FlagRow | undefined> {
      return tx
        .insertInto('feature_flags')
        .values({
          name,
          enabled: values.enabled,
          rollout_percentage: values.rolloutPercentage,
          metadata: JSON.stringify(values.metadata),
          description: values.description,
          updated_by: values.updatedBy,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning(COLUMNS)
        .executeTakeFirst();
    },

    /** Writes the new values; `stateChanged` restarts the clock of the stale report. */
    update(name: string, values: FlagValues, stateChanged: boolean): Promise<FlagRow> {
      return tx
        .updateTable('feature_flags')
        .set({
          enabled: values.enabled,
          rollout_percentage: values.rolloutPercentage,
          metadata: JSON.stringify(values.metadata),
          description: values.description,
          updated_by: values.updatedBy,
          updated_at: sql`now()`,
          ...(stateChanged ? { state_since: sql`now()` } : {}),
        })
        .where('name', '=', name)
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
    },
  };
}

export type FlagsTransaction = ReturnType<typeof inTransaction>;

export function createFlagsRepository(db: Db) {
  return {
    listAll(): Promise<FlagRow[]> {
      return db.selectFrom('feature_flags').select(COLUMNS).orderBy('name').execute();
    },

    find(name: string): Promise<FlagRow | undefined> {
      return db.selectFrom('feature_flags').select(COLUMNS).where('name', '=', name).executeTakeFirst();
    },

    /** Flags fully on (enabled at 100 %) or fully off (disabled, or at 0 %) since before `before`, oldest first. */
    listSettledSince(before: Date): Promise<FlagRow[]> {
      return db
        .selectFrom('feature_flags')
        .select(COLUMNS)
        .where('state_since', '<', before)
        .where((eb) =>
          eb.or([
            eb.and([eb('enabled', '=', true), eb('rollout_percentage', '=', 100)]),
            eb('enabled', '=', false),
            eb('rollout_percentage', '=', 0),
          ]),
        )
        .orderBy('state_since')
        .orderBy('name')
        .execute();
    },

    transaction<T>(work: (tx: FlagsTransaction) => Promise<T>): Promise<T> {
      return transaction(db, (tx) => work(inTransaction(tx)));
    },
  };
}

export type FlagsRepository = ReturnType<typeof createFlagsRepository>;
