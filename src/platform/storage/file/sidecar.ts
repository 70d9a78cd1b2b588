// An object's metadata in the file driver: a small JSON file beside the object
// (`.<name>.meta.json`), while the object's bytes stay an ordinary file.
import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { recordedSha256, type ObjectMeta } from '../storage.js';
import { writeAtomically } from './atomic-write.js';
import { isMissing } from './read.js';

/** What a sidecar records. */
export interface Sidecar {
  contentType: string;
  bytes: number;
  sha256: string;
  cacheControl?: string;
}

// A sidecar is about 150 bytes: one read of this size gets it whole.
const SIDECAR_READ_BYTES = 4096;

/** Where the sidecar of `file` lives: dot-prefixed, so it is never a valid key and list() skips it. */
export const sidecarOf = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);

/** Open, one read, close: a readFile would also fstat. Undefined when there is none. */
export async function readSidecar(file: string): Promise<Sidecar | undefined> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(sidecarOf(file), 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.allocUnsafe(SIDECAR_READ_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SIDECAR_READ_BYTES, 0);
    const text = bytesRead < SIDECAR_READ_BYTES ? buffer.toString('utf8', 0, bytesRead) : await handle.readFile('utf8');
    return JSON.parse(text) as Sidecar;
  } finally {
    await handle.close();
  }
}

/** Replaces the sidecar of `file` whole (temp file, then rename). */
export function writeSidecar(file: string, sidecar: Sidecar): Promise<void> {
  return writeAtomically(sidecarOf(file), JSON.stringify(sidecar));
}

/** The object's metadata from its stat and its sidecar, if any. */
export function metaOf(stat: fs.Stats, sidecar: Sidecar | undefined): ObjectMeta {
  // A file without a matching sidecar (copied in by hand) is still served, as
  // opaque bytes tagged by size and modification time.
  const sha256 = sidecar && sidecar.bytes === stat.size ? recordedSha256(sidecar.sha256) : undefined;
  const etag = sha256
    ? Buffer.from(sha256, 'hex').toString('base64url')
    : `${stat.size.toString(36)}-${Math.trunc(stat.mtimeMs).toString(36)}`;
  return {
    contentType: sidecar?.contentType ?? 'application/octet-stream',
    bytes: stat.size,
    etag: `"${etag}"`,
    lastModified: stat.mtime,
    ...(sha256 ? { sha256 } : {}),
    ...(sidecar?.cacheControl ? { cacheControl: sidecar.cacheControl } : {}),
  };
}
