// list() of the file driver: a sorted walk of the directories a prefix can reach.
import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ListedObject } from '../storage.js';
import { isMissing } from './read.js';

/**
 * Every object under `dir` (whose key is `keyDir`) whose key starts with
 * `prefix`, in key order. Hidden files (sidecars, temp files) are skipped, and
 * only directories the prefix can reach are entered.
 */
export async function* walk(dir: string, keyDir: string, prefix: string): AsyncGenerator<ListedObject> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const key = keyDir ? `${keyDir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* walk(path.join(dir, entry.name), key, prefix);
    } else if (entry.isFile() && key.startsWith(prefix)) {
      try {
        const stat = await fsp.stat(path.join(dir, entry.name));
        yield { key, bytes: stat.size, lastModified: stat.mtime };
      } catch (error) {
        if (!isMissing(error)) throw error; // deleted while listing
      }
    }
  }
}
