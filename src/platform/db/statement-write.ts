/**
 * A row that the caller's own statement writes in a WITH clause, with the
 * change it belongs to: stored with it or not at all, in one round trip and
 * one commit (an outbox job, an audit entry).
 *
 * Its SQL is fixed text for its kind, with numbered parameters, so the caller
 * composes its statement once per combination of kinds and only binds values
 * on each call: no query builder on the request path (decision 0055).
 */
export interface StatementWrite {
  /** Writes of one kind have the same `insertFrom` text (for the same arguments). */
  readonly kind: string;
  /**
   * The INSERT for a WITH clause: one row per row of the CTE named `source`,
   * its parameters numbered `$first`, `$first + 1`, ... in the order of `values`.
   */
  insertFrom(source: string, first: number): string;
  readonly values: readonly unknown[];
  /** Call once the statement has committed, when it wrote the row (a job wakes idle workers). */
  written(): void;
}

/** `$first`, `$first + 1`, ...: the parameter placeholders of a write's text. */
export const parameters = (first: number) => (offset: number) => `$${first + offset}`;
