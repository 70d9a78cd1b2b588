// Reading the file driver's objects: one open handle per read, stat'ed through
// that handle, and bodies read whole when small.
import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { ObjectMeta, OpenedObject } from '../storage.js';

/** Whether `error` says there is no such file (or a parent is a file). */
export const isMissing = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException)?.code ?? '');

// Read into one buffer (a read and a close) rather than streamed (reads until
// EOF, then a close) when no bigger: the size of a thumbnail or a display image.
const BUFFERED_READ_BYTES = 256 * 1024;

/** Exactly `length` bytes from `position`: a regular file never returns short reads before its end. */
export async function readExactly(handle: fsp.FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`the file ended ${length - filled} bytes early`);
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Opens the object's file and stats it through the same handle, so a
 * concurrent replace cannot mix two versions; null when there is no such
 * file, or it is not a regular file. On success the caller owns (and must
 * close) the handle.
 */
export async function openFile(file: string): Promise<{ handle: fsp.FileHandle; stat: fs.Stats } | null> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (stat.isFile()) return { handle, stat };
    await handle.close();
    return null;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** An object held in memory, served without any fs operation. */
export function fromMemory(held: { meta: ObjectMeta; bytes: Buffer }): OpenedObject {
  return {
    ...held.meta,
    body: async (range) => (range ? held.bytes.subarray(range.start, range.end + 1) : held.bytes),
    close: async () => undefined,
  };
}

/**
 * The object behind an open handle; `body()` or `close()` releases the handle.
 * A failed buffered read is thrown as `failed` makes it.
 */
export function fromHandle(handle: fsp.FileHandle, meta: ObjectMeta, failed: (error: unknown) => Error): OpenedObject {
  let released = false;
  const release = () => {
    if (released) throw new Error('the object was already read or closed');
    released = true;
  };
  return {
    ...meta,
    async body(range) {
      release();
      const { start, end } = range ?? { start: 0, end: meta.bytes - 1 };
      const length = end - start + 1;
      if (length > BUFFERED_READ_BYTES) return handle.createReadStream({ start, end }); // closes the handle when done or destroyed
      try {
        return length > 0 ? await readExactly(handle, length, start) : Buffer.alloc(0);
      } catch (error) {
        throw failed(error);
      } finally {
        await handle.close();
      }
    },
    async close() {
      if (released) return;
      released = true;
      await handle.close();
    },
  };
}
