/**
 * `table[key]` for keys that come from outside (a query string, a command
 * line): only the table's own entries, so "constructor", "__proto__" or
 * "toString" name nothing instead of something every object inherits.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}
