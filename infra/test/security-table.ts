// SECURITY.md's table "Who gets which secret", read for the tests that hold it
// to the infrastructure files: the Pulumi programs here (infra/test/security.test.ts),
// the Kubernetes manifests and docker-compose.yml (deploy/). No imports but
// node's, so the repository's own tests can use it too.
import fs from 'node:fs';
import path from 'node:path';

export type Platform = 'GCP' | 'AWS' | 'Kubernetes' | 'Compose';
export const PLATFORMS: readonly Platform[] = ['GCP', 'AWS', 'Kubernetes', 'Compose'];
export type Bucket = 'media' | 'backups' | 'backup copy';
const BUCKETS: readonly string[] = ['media', 'backups', 'backup copy'];

export interface SecretRow {
  process: string;
  platform: Platform;
  /** The environment variables it gets from the secret store, sorted. */
  secrets: string[];
  /** The buckets it may use, sorted; empty for "none". */
  buckets: Bucket[];
}

/**
 * The rows of the table under "Who gets which secret" in SECURITY.md (found
 * from `fromDir` upwards). Secrets are the backquoted names in their cell;
 * buckets are the cell's comma-separated names, text in parentheses being
 * commentary. Throws on a row it cannot read, so the document stays checkable.
 */
export function readSecretTable(fromDir: string): SecretRow[] {
  let dir = path.resolve(fromDir);
  while (!fs.existsSync(path.join(dir, 'SECURITY.md'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no SECURITY.md above ${fromDir}`);
    dir = parent;
  }
  return parseSecretTable(fs.readFileSync(path.join(dir, 'SECURITY.md'), 'utf8'));
}

export function parseSecretTable(markdown: string): SecretRow[] {
  const lines = markdown.split('\n');
  const heading = lines.findIndex((line) => line.includes('**Who gets which secret**'));
  if (heading < 0) throw new Error('SECURITY.md has no "Who gets which secret" table');
  const table: string[] = [];
  for (const line of lines.slice(heading + 1)) {
    if (line.trim().startsWith('|')) table.push(line.trim());
    else if (table.length > 0) break;
  }
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
  const header = cells(table[0] ?? '');
  if (header.join('|') !== 'process|platform|secrets|buckets')
    throw new Error(`the table's columns are ${header.join(', ')}, not process, platform, secrets, buckets`);
  return table.slice(2).map((line) => {
    const [process = '', platform = '', secrets = '', buckets = ''] = cells(line);
    if (!PLATFORMS.includes(platform as Platform)) throw new Error(`unknown platform "${platform}" in: ${line}`);
    const named = buckets
      .replace(/\([^)]*\)/g, '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name && name !== 'none');
    for (const name of named) if (!BUCKETS.includes(name)) throw new Error(`unknown bucket "${name}" in: ${line}`);
    return {
      process,
      platform: platform as Platform,
      secrets: [...secrets.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!).sort(),
      buckets: (named as Bucket[]).sort(),
    };
  });
}

/** The rows of one platform, by process. */
export function rowsOf(rows: SecretRow[], platform: Platform): Map<string, SecretRow> {
  return new Map(rows.filter((row) => row.platform === platform).map((row) => [row.process, row]));
}
