import type { RawBuilder } from 'kysely';

/**
 * A row that the caller's own statement writes in a WITH clause, with the
 * change it belongs to: stored with it or not at all, in one round trip and
 * one commit (an outbox job, an audit entry).
 */
export interface StatementWrite {
  /** The INSERT for a WITH clause: one row per row of the CTE named `source`. */
  insertFrom(source: string): RawBuilder<unknown>;
  /** Call once the statement has committed, when it wrote the row (a job wakes idle workers). */
  written(): void;
}
