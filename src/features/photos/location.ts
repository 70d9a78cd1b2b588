// Where a photo was taken must not leave its uploader (issue 13). Cameras and
// phones write the position into EXIF (the GPS directory) and XMP (exif:GPS…,
// and place names); this removes both from an original without touching a
// byte of its picture, so everyone else gets the uploaded image, pixel for
// pixel, with its time taken and orientation, but not where it was.
import zlib from 'node:zlib';
import type { ImageType } from './image-check.js';

/**
 * The image without location metadata, or null when it holds none. The
 * picture's bytes are untouched: EXIF's GPS directory is emptied in place, XMP
 * location properties are blanked (JPEG, WebP, AVIF: the same length) or
 * rewritten (PNG text chunks), and IPTC blocks (place names) are dropped.
 */
export function withoutLocation(type: ImageType, original: Buffer): Buffer | null {
  const image = Buffer.from(original);
  let changed: boolean;
  switch (type) {
    case 'image/jpeg':
      return jpegWithoutLocation(image);
    case 'image/png':
      return pngWithoutLocation(image);
    case 'image/webp':
      changed = webpWithoutLocation(image);
      break;
    case 'image/avif':
      changed = scanWithoutLocation(image);
      break;
    case 'image/gif':
      return gifWithoutLocation(image);
  }
  return changed ? image : null;
}

// --- EXIF (TIFF) --------------------------------------------------------------

const GPS_INFO_TAG = 0x8825;
// Bytes per value of each TIFF field type (1 BYTE ... 13 IFD).
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };

/**
 * Empties the GPS directory of the TIFF structure at `start` (EXIF's) in
 * place: its entries and the values they point to become zeros and its count
 * 0, a valid empty directory. Returns whether it held anything.
 */
function clearGpsDirectory(image: Buffer, start: number, end = image.length): boolean {
  if (start < 0 || end - start < 8) return false;
  const order = image.toString('latin1', start, start + 2);
  if (order !== 'II' && order !== 'MM') return false;
  const little = order === 'II';
  const u16 = (at: number) => (little ? image.readUInt16LE(at) : image.readUInt16BE(at));
  const u32 = (at: number) => (little ? image.readUInt32LE(at) : image.readUInt32BE(at));
  const inside = (at: number, length: number) => at >= start && at + length <= end;
  if (u16(start + 2) !== 42) return false;
  const first = start + u32(start + 4);
  if (!inside(first, 2)) return false;
  for (let i = 0; i < u16(first); i++) {
    const entry = first + 2 + i * 12;
    if (!inside(entry, 12)) return false;
    if (u16(entry) !== GPS_INFO_TAG) continue;
    const directory = start + u32(entry + 8);
    if (!inside(directory, 2)) return false;
    const count = u16(directory);
    if (count === 0 || !inside(directory + 2, count * 12)) return false;
    for (let j = 0; j < count; j++) {
      const field = directory + 2 + j * 12;
      const size = (TYPE_SIZES[u16(field + 2)] ?? 0) * u32(field + 4);
      const value = start + u32(field + 8);
      if (size > 4 && inside(value, size)) image.fill(0, value, value + size);
    }
    image.fill(0, directory, directory + 2 + count * 12);
    // What followed the entries (the next-directory offset) is zero too: the directory is empty and last.
    if (inside(directory + 2, 4)) image.fill(0, directory + 2, directory + 6);
    return true;
  }
  return false;
}

const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');

/** The TIFF structure of an EXIF block, which may start with "Exif\0\0". */
function clearGpsInExifBlock(image: Buffer, start: number, end: number): boolean {
  const tiff = image.subarray(start, start + 6).equals(EXIF_HEADER) ? start + 6 : start;
  return clearGpsDirectory(image, tiff, end);
}

// --- XMP ------------------------------------------------------------------------

// GPS properties (exif:GPSLatitude, exifEX:…) and place names (IPTC Core and Extension, Photoshop).
const XMP_LOCATION = String.raw`(?:[\w-]+:GPS\w*|Iptc4xmpCore:(?:Location|CountryCode)|Iptc4xmpExt:Location(?:Created|Shown)|photoshop:(?:City|State|Country))`;
const XMP_PATTERNS = [
  new RegExp(String.raw`\s${XMP_LOCATION}\s*=\s*("[^"]*"|'[^']*')`, 'g'), // attribute form
  new RegExp(String.raw`<(${XMP_LOCATION})\b[^>]*/>`, 'g'), // empty element
  new RegExp(String.raw`<(${XMP_LOCATION})\b[^>]*>[\s\S]*?</\1\s*>`, 'g'), // element form
];

/** XMP text with every location property replaced by spaces of the same length. */
function blankXmpLocation(text: string): string {
  return XMP_PATTERNS.reduce((result, pattern) => result.replace(pattern, (match) => ' '.repeat(match.length)), text);
}

/** Blanks the location in every XMP packet inside `image[start, end)`, in place (latin1 keeps byte lengths). */
function blankXmpPackets(image: Buffer, start = 0, end = image.length): boolean {
  let changed = false;
  const text = image.toString('latin1', start, end);
  for (let at = text.indexOf('<x:xmpmeta'); at !== -1; at = text.indexOf('<x:xmpmeta', at + 1)) {
    const close = text.indexOf('</x:xmpmeta>', at);
    if (close === -1) break;
    const packet = text.slice(at, close);
    const blanked = blankXmpLocation(packet);
    if (blanked !== packet) {
      image.write(blanked, start + at, 'latin1');
      changed = true;
    }
  }
  return changed;
}

// --- containers -----------------------------------------------------------------

const JPEG_START_OF_SCAN = 0xda;
const JPEG_APP1 = 0xe1;
const JPEG_APP13 = 0xed; // Photoshop IRB with IPTC: place names

/** JPEG: APP1 EXIF's GPS directory emptied, APP1 XMP blanked, APP13 (IPTC) dropped; the scan data as it was. */
function jpegWithoutLocation(image: Buffer): Buffer | null {
  const kept: Buffer[] = [image.subarray(0, 2)];
  let changed = false;
  let at = 2;
  while (at + 4 <= image.length && image[at] === 0xff) {
    const marker = image[at + 1]!;
    if (marker === JPEG_START_OF_SCAN || marker === 0xd9) break;
    if (marker === 0xff || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      kept.push(image.subarray(at, at + (marker === 0xff ? 1 : 2)));
      at += marker === 0xff ? 1 : 2;
      continue;
    }
    const end = at + 2 + image.readUInt16BE(at + 2);
    if (end > image.length) break;
    if (marker === JPEG_APP1) {
      const exif = clearGpsInExifBlock(image, at + 4, end);
      const xmp = blankXmpPackets(image, at + 4, end);
      changed = exif || xmp || changed;
    }
    if (marker === JPEG_APP13) changed = true;
    else kept.push(image.subarray(at, end));
    at = end;
  }
  return changed ? Buffer.concat([...kept, image.subarray(at)]) : null;
}

const PNG_SIGNATURE_LENGTH = 8;
const XMP_KEYWORD = 'XML:com.adobe.xmp';

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG text chunk's XMP with its location blanked, or the chunk as it was (null: drop it). */
function pngTextChunk(type: string, data: Buffer): Buffer | null | undefined {
  const keywordEnd = data.indexOf(0);
  if (keywordEnd === -1) return undefined;
  const keyword = data.toString('latin1', 0, keywordEnd);
  // ImageMagick's hex-encoded EXIF, XMP or IPTC: not worth rewriting.
  if (keyword.startsWith('Raw profile type')) return null;
  if (keyword !== XMP_KEYWORD) return undefined;
  let prefix: Buffer;
  let compressed: boolean;
  let text: Buffer;
  if (type === 'iTXt') {
    compressed = data[keywordEnd + 1] === 1;
    const languageEnd = data.indexOf(0, keywordEnd + 3);
    const textStart = data.indexOf(0, languageEnd + 1) + 1;
    prefix = data.subarray(0, textStart);
    text = data.subarray(textStart);
  } else {
    compressed = type === 'zTXt';
    prefix = data.subarray(0, keywordEnd + (compressed ? 2 : 1));
    text = data.subarray(prefix.length);
  }
  const xmp = (compressed ? zlib.inflateSync(text) : text).toString('utf8');
  const blanked = blankXmpLocation(xmp);
  if (blanked === xmp) return undefined;
  const written = Buffer.from(blanked, 'utf8');
  return pngChunk(type, Buffer.concat([prefix, compressed ? zlib.deflateSync(written) : written]));
}

/** PNG: eXIf's GPS directory emptied and XMP text chunks rewritten, each with its CRC; image chunks as they were. */
function pngWithoutLocation(image: Buffer): Buffer | null {
  const chunks: Buffer[] = [image.subarray(0, PNG_SIGNATURE_LENGTH)];
  let changed = false;
  let at = PNG_SIGNATURE_LENGTH;
  while (at + 12 <= image.length) {
    const length = image.readUInt32BE(at);
    const type = image.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > image.length) break;
    let chunk: Buffer | null = image.subarray(at, end);
    if (type === 'eXIf' && clearGpsInExifBlock(image, at + 8, at + 8 + length)) {
      chunk = pngChunk(type, image.subarray(at + 8, at + 8 + length));
      changed = true;
    } else if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') {
      const rewritten = pngTextChunk(type, image.subarray(at + 8, at + 8 + length));
      if (rewritten !== undefined) {
        chunk = rewritten;
        changed = true;
      }
    }
    if (chunk) chunks.push(chunk);
    at = end;
  }
  return changed ? Buffer.concat([...chunks, image.subarray(at)]) : null;
}

/** WebP: the EXIF chunk's GPS directory emptied and the XMP chunk blanked, in place (no size changes). */
function webpWithoutLocation(image: Buffer): boolean {
  let changed = false;
  for (let at = 12; at + 8 <= image.length;) {
    const type = image.toString('latin1', at, at + 4);
    const length = image.readUInt32LE(at + 4);
    const end = Math.min(image.length, at + 8 + length);
    if (type === 'EXIF') changed = clearGpsInExifBlock(image, at + 8, end) || changed;
    if (type === 'XMP ') changed = blankXmpPackets(image, at + 8, end) || changed;
    at = at + 8 + length + (length % 2);
  }
  return changed;
}

const TIFF_HEADERS = [Buffer.from('II*\0', 'latin1'), Buffer.from('MM\0*', 'latin1')];

/**
 * AVIF (ISO-BMFF): the EXIF item's TIFF structure and XMP packets are found by
 * their signatures and edited in place. A TIFF header spelt by chance in the
 * compressed picture would also need a directory that holds a GPS entry with
 * every offset in range before a byte is changed, which chance does not spell.
 */
function scanWithoutLocation(image: Buffer): boolean {
  let changed = false;
  for (const header of TIFF_HEADERS) {
    for (let at = image.indexOf(header); at !== -1; at = image.indexOf(header, at + 1)) {
      changed = clearGpsDirectory(image, at) || changed;
    }
  }
  return blankXmpPackets(image) || changed;
}

/**
 * GIF has no EXIF; XMP lives in an application extension whose text doubles as
 * its sub-block lengths, so it cannot be edited in place: one that names a
 * place is dropped whole.
 */
function gifWithoutLocation(image: Buffer): Buffer | null {
  const colorTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  const subBlocksEnd = (at: number) => {
    while (at < image.length && image[at] !== 0) at += image[at]! + 1;
    return at + 1;
  };
  let at = 13 + colorTable(image[10] ?? 0);
  const kept: Buffer[] = [image.subarray(0, at)];
  let changed = false;
  while (at < image.length && image[at] !== 0x3b) {
    let end: number;
    if (image[at] === 0x21) {
      end = subBlocksEnd(at + 2);
      const isXmp = image[at + 1] === 0xff && image.toString('latin1', at + 3, at + 14) === 'XMP DataXMP';
      if (isXmp && blankXmpPackets(Buffer.from(image.subarray(at, end)))) {
        changed = true;
        at = end;
        continue;
      }
    } else if (image[at] === 0x2c) {
      end = subBlocksEnd(at + 10 + colorTable(image[at + 9] ?? 0) + 1);
    } else {
      break;
    }
    kept.push(image.subarray(at, end));
    at = end;
  }
  return changed ? Buffer.concat([...kept, image.subarray(at)]) : null;
}
