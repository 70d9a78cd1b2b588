// The file driver's one way of writing: into a temp file beside the target,
// then a rename over it. Readers see the old file or the whole new one, never
// a part, and a write cut off at any point leaves only the temp file, which is
// removed at once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A fresh temp name beside `file`. Dot-prefixed names are never valid object
 * keys, so a temp file can neither be fetched as an object nor collide with
 * one, and list() skips it.
 */
export const tempBeside = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomUUID()}.tmp`);

/**
 * Writes `data` (a string, or a stream read to its end) to a temp file beside
 * `file`, flushed, then renames it over `file`. `beforeRename` runs between the
 * two (the file driver writes an object's sidecar there, so the object never
 * exists without its type). On any failure the temp file is removed, `file`
 * is left as it was, and the error is thrown.
 */
export async function writeAtomically(file: string, data: string | Readable, beforeRename?: () => Promise<void>): Promise<void> {
  const temp = tempBeside(file);
  try {
    if (typeof data === 'string') await fsp.writeFile(temp, data, { flag: 'wx', flush: true });
    else await pipeline(data, fs.createWriteStream(temp, { flags: 'wx', flush: true }));
    await beforeRename?.();
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}
