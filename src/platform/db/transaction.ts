import type { IsolationLevel, Kysely, Transaction } from 'kysely';

// Work that must wait until the transaction it belongs to has committed, such
// as telling workers about a job the transaction enqueued (platform/db/notifier.ts).
const afterCommitHooks = new WeakMap<object, (() => void)[]>();

/**
 * Runs `work` in a transaction and, once it has committed, the hooks that the
 * work registered with `afterCommit` (none if it rolled back). Every
 * transaction in EPU is opened here (a test keeps it so).
 */
export async function transaction<DB, T>(
  db: Kysely<DB>,
  work: (tx: Transaction<DB>) => Promise<T>,
  options: { isolationLevel?: IsolationLevel } = {},
): Promise<T> {
  const hooks: (() => void)[] = [];
  const builder = options.isolationLevel ? db.transaction().setIsolationLevel(options.isolationLevel) : db.transaction();
  const result = await builder.execute((tx) => {
    afterCommitHooks.set(tx, hooks);
    return work(tx);
  });
  for (const hook of hooks) hook();
  return result;
}

/**
 * Runs `hook` once what `executor` wrote is committed: at once for the pool
 * (autocommit), after the commit for a transaction opened by `transaction`.
 * Returns false, without running it, for a transaction opened elsewhere.
 */
export function afterCommit(executor: Kysely<any>, hook: () => void): boolean {
  if (!executor.isTransaction) {
    hook();
    return true;
  }
  const hooks = afterCommitHooks.get(executor);
  if (!hooks) return false;
  hooks.push(hook);
  return true;
}
