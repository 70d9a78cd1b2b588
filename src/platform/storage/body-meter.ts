import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { ChecksumMismatchError, ObjectTooLargeError, recordedSha256 } from './storage.js';

export interface MeteredBody {
  /** The bytes of the body, to hand to the driver's writer. */
  stream: Readable;
  bytes(): number;
  /** Hex SHA-256 of everything that passed; read it once the stream has ended. */
  sha256(): string;
  /**
   * Why the body stopped early, if it was the body's fault: ObjectTooLargeError,
   * ChecksumMismatchError, or the caller's stream failing (a client that went away). These are not
   * storage failures, so a put rethrows them as they are and counts nothing.
   */
  failure(): Error | undefined;
}

/**
 * Reads a put's body chunk by chunk, counting and hashing, never holding more
 * than a chunk. With `expectedSha256`, a body that hashes otherwise fails at
 * its very end, before the writer sees it end, so the driver stores nothing.
 */
export function meterBody(body: Readable | Buffer, maxBytes = Number.POSITIVE_INFINITY, expectedSha256?: string): MeteredBody {
  if (expectedSha256 !== undefined && recordedSha256(expectedSha256) === undefined) {
    throw new RangeError('the expected SHA-256 must be 64 lowercase hex digits');
  }
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let failure: Error | undefined;
  let digest: string | undefined;

  const take = (chunk: Buffer): Buffer => {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      failure = new ObjectTooLargeError(maxBytes);
      throw failure;
    }
    hash.update(chunk);
    return chunk;
  };

  const check = () => {
    digest ??= hash.digest('hex');
    if (expectedSha256 !== undefined && digest !== expectedSha256) {
      failure = new ChecksumMismatchError(expectedSha256, digest);
      throw failure;
    }
  };

  async function* chunks(): AsyncGenerator<Buffer> {
    if (Buffer.isBuffer(body)) {
      const chunk = take(body);
      check();
      yield chunk;
      return;
    }
    const source = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        let step: IteratorResult<unknown>;
        // Only a failure of the caller's stream lands here; a failing writer reaches
        // this generator at `yield`, outside this try.
        try {
          step = await source.next();
        } catch (error) {
          failure = error instanceof Error ? error : new Error(String(error));
          throw failure;
        }
        if (step.done) {
          check();
          return;
        }
        const value = step.value;
        yield take(Buffer.isBuffer(value) ? value : Buffer.from(value as string));
      }
    } finally {
      // Stopping early (too large, writer failed) releases the caller's stream.
      await source.return?.();
    }
  }

  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    bytes: () => bytes,
    sha256: () => (digest ??= hash.digest('hex')),
    failure: () => failure,
  };
}
