import { Transform, type TransformCallback } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';

export const IMAGE_TYPES = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif',
} as const;

export type ImageType = keyof typeof IMAGE_TYPES;

/** Bytes needed to recognise every accepted format. */
export const SNIFF_BYTES = 4100;

/** The image type from the first bytes (never the file name or the client's claim), or null. */
export async function sniffImageType(head: Buffer): Promise<ImageType | null> {
  const detected = await fileTypeFromBuffer(head);
  return detected && detected.mime in IMAGE_TYPES ? (detected.mime as ImageType) : null;
}

const JPEG_EOI_WINDOW = 256 * 1024;
const PNG_IEND = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/**
 * Passes bytes through while checking, in constant memory, that the image is
 * whole: a truncated upload is refused before anything is stored.
 *  - JPEG: an end-of-image marker within the last 256 KiB (phone trailers after it are fine);
 *  - PNG: ends with the IEND chunk; GIF: ends with the trailer byte;
 *  - WebP: the RIFF size covers the bytes; AVIF: the top-level boxes add up to the bytes.
 * Decoding problems the structure cannot show are caught when the worker
 * processes the photo, which then fails with a reason.
 */
export class ImageCompletenessCheck extends Transform {
  private tail = Buffer.alloc(0);
  private total = 0;
  private riffSize: number | null = null;
  private nextBoxAt = 0;
  private boxToEnd = false;
  private boxHeader = Buffer.alloc(0);
  private malformed = false;

  constructor(private readonly type: ImageType) {
    super();
  }

  get bytes(): number {
    return this.total;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.type === 'image/avif') this.walkBoxes(chunk);
    if (this.type === 'image/webp' && this.riffSize === null) {
      const head = Buffer.concat([this.tail, chunk]);
      if (this.total + chunk.length >= 8 && head.length >= 8) this.riffSize = head.readUInt32LE(4) + 8;
    }
    this.total += chunk.length;
    const keep = this.type === 'image/jpeg' ? JPEG_EOI_WINDOW : 16;
    this.tail =
      this.tail.length + chunk.length <= keep ? Buffer.concat([this.tail, chunk]) : Buffer.concat([this.tail, chunk]).subarray(-keep);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.complete() ? null : new IncompleteImageError());
  }

  private complete(): boolean {
    switch (this.type) {
      case 'image/jpeg':
        return this.tail.lastIndexOf(Buffer.from([0xff, 0xd9])) >= 0;
      case 'image/png':
        return this.tail.subarray(-PNG_IEND.length).equals(PNG_IEND);
      case 'image/gif':
        return this.tail.at(-1) === 0x3b;
      case 'image/webp':
        return this.riffSize !== null && this.total >= this.riffSize;
      case 'image/avif':
        return !this.malformed && (this.boxToEnd || (this.nextBoxAt === this.total && this.boxHeader.length === 0));
    }
  }

  /** Follows ISO-BMFF top-level box sizes (32-bit, 64-bit or "to the end") across chunk boundaries. */
  private walkBoxes(chunk: Buffer): void {
    const chunkStart = this.total;
    const chunkEnd = chunkStart + chunk.length;
    while (!this.boxToEnd && !this.malformed) {
      const readFrom = this.nextBoxAt + this.boxHeader.length;
      if (readFrom >= chunkEnd) return;
      const wanted = this.boxHeader.length < 8 ? 8 : 16;
      const take = chunk.subarray(readFrom - chunkStart, Math.min(chunkEnd, this.nextBoxAt + wanted) - chunkStart);
      this.boxHeader = Buffer.concat([this.boxHeader, take]);
      if (this.boxHeader.length < 8) return;
      const size32 = this.boxHeader.readUInt32BE(0);
      if (size32 === 1 && this.boxHeader.length < 16) continue;
      const size = size32 === 1 ? Number(this.boxHeader.readBigUInt64BE(8)) : size32;
      if (size32 === 0) this.boxToEnd = true;
      else if (size < 8) this.malformed = true;
      else this.nextBoxAt += size;
      this.boxHeader = Buffer.alloc(0);
    }
  }
}

export class IncompleteImageError extends Error {
  constructor() {
    super('the image is truncated or incomplete');
    this.name = 'IncompleteImageError';
  }
}
