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

/** HEIF containers of HEVC pictures (iPhones' default): libvips decodes them only when built with a HEVC decoder. */
const HEIC_TYPES: readonly string[] = ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence'];

/** What the first bytes are (never the file name or the client's claim): an accepted image type, 'heic', or null for anything else. */
export async function sniffUploadType(head: Buffer): Promise<ImageType | 'heic' | null> {
  const detected = await fileTypeFromBuffer(head);
  if (!detected) return null;
  if (detected.mime in IMAGE_TYPES) return detected.mime as ImageType;
  return HEIC_TYPES.includes(detected.mime) ? 'heic' : null;
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

/** How far into a file its dimensions are looked for while it streams; past that, photoUploaded checks them. */
export const DIMENSIONS_WINDOW = 256 * 1024;

export interface Dimensions {
  width: number;
  height: number;
}

/**
 * The width and height an image declares in its header, or null while `head`
 * does not reach them yet (or the header is not understood): PNG's IHDR,
 * GIF's logical screen, WebP's VP8/VP8L/VP8X header, JPEG's frame header (after
 * any number of segments), AVIF's largest `ispe` property.
 */
export function declaredDimensions(type: ImageType, head: Buffer): Dimensions | null {
  switch (type) {
    case 'image/png':
      return head.length >= 24 ? { width: head.readUInt32BE(16), height: head.readUInt32BE(20) } : null;
    case 'image/gif':
      return head.length >= 10 ? { width: head.readUInt16LE(6), height: head.readUInt16LE(8) } : null;
    case 'image/webp':
      return webpDimensions(head);
    case 'image/jpeg':
      return jpegDimensions(head);
    case 'image/avif':
      return avifDimensions(head);
  }
}

function webpDimensions(head: Buffer): Dimensions | null {
  if (head.length < 30) return null;
  switch (head.toString('latin1', 12, 16)) {
    case 'VP8X':
      return { width: head.readUIntLE(24, 3) + 1, height: head.readUIntLE(27, 3) + 1 };
    case 'VP8 ':
      return { width: head.readUInt16LE(26) & 0x3fff, height: head.readUInt16LE(28) & 0x3fff };
    case 'VP8L': {
      const bits = head.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    default:
      return null;
  }
}

// Start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are other segments.
const JPEG_FRAME_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const JPEG_START_OF_SCAN = 0xda;

function jpegDimensions(head: Buffer): Dimensions | null {
  let at = 2; // after the start-of-image marker
  while (at + 4 <= head.length) {
    if (head[at] !== 0xff) return null;
    const marker = head[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // markers without a length
      continue;
    }
    if (JPEG_FRAME_MARKERS.has(marker))
      return at + 9 <= head.length ? { height: head.readUInt16BE(at + 5), width: head.readUInt16BE(at + 7) } : null;
    if (marker === JPEG_START_OF_SCAN) return null;
    at += 2 + head.readUInt16BE(at + 2);
  }
  return null;
}

/** ISO-BMFF: meta (a full box) > iprp > ipco > ispe (a full box: width, height). The largest, should there be several. */
function avifDimensions(head: Buffer): Dimensions | null {
  const children = (start: number, end: number): { type: string; start: number; end: number }[] => {
    const boxes = [];
    for (let at = start; at + 8 <= end;) {
      const size = head.readUInt32BE(at);
      if (size < 8 || at + size > end) break;
      boxes.push({ type: head.toString('latin1', at + 4, at + 8), start: at + 8, end: at + size });
      at += size;
    }
    return boxes;
  };
  const meta = children(0, head.length).find((box) => box.type === 'meta');
  const iprp = meta && children(meta.start + 4, meta.end).find((box) => box.type === 'iprp');
  const ipco = iprp && children(iprp.start, iprp.end).find((box) => box.type === 'ipco');
  if (!ipco) return null;
  let largest: Dimensions | null = null;
  for (const box of children(ipco.start, ipco.end)) {
    if (box.type !== 'ispe' || box.end - box.start < 12) continue;
    const size = { width: head.readUInt32BE(box.start + 4), height: head.readUInt32BE(box.start + 8) };
    if (!largest || size.width * size.height > largest.width * largest.height) largest = size;
  }
  return largest;
}

/** Why an image of `size` is refused under a limit of `maxPixels`, or null when it is within it. */
export function pixelLimitProblem(size: Dimensions, maxPixels: number): string | null {
  if (size.width * size.height <= maxPixels) return null;
  const limit = maxPixels % 1_000_000 === 0 ? `${maxPixels / 1_000_000} megapixels` : `${maxPixels} pixels`;
  return `the image is ${size.width} x ${size.height} pixels; at most ${limit} are accepted (MAX_IMAGE_PIXELS)`;
}

/**
 * Passes bytes through while reading the image's declared dimensions from its
 * first DIMENSIONS_WINDOW bytes, and fails with TooManyPixelsError as soon as
 * they exceed `maxPixels`: decoding costs time and memory by the pixel, not by
 * the byte, so a small file can be a huge image.
 */
export class PixelLimitCheck extends Transform {
  // The bytes so far while the dimensions are still unknown; null once decided.
  private head: Buffer | null = Buffer.alloc(0);

  constructor(
    private readonly type: ImageType,
    private readonly maxPixels: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.head) {
      this.head = Buffer.concat([this.head, chunk]);
      const size = declaredDimensions(this.type, this.head);
      if (size) {
        this.head = null;
        const problem = pixelLimitProblem(size, this.maxPixels);
        if (problem) return callback(new TooManyPixelsError(problem));
      } else if (this.head.length >= DIMENSIONS_WINDOW) {
        this.head = null;
      }
    }
    callback(null, chunk);
  }
}

export class TooManyPixelsError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'TooManyPixelsError';
  }
}
