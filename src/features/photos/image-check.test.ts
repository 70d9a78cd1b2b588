import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { heicFile } from '../../../tests/support/images.js';
import { describe, expect, it } from 'vitest';
import { ImageCompletenessCheck, type ImageType, sniffUploadType } from './image-check.js';

const base = () => sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 80, b: 40 } } });
const images: Record<ImageType, () => Promise<Buffer>> = {
  'image/jpeg': () => base().jpeg().toBuffer(),
  'image/png': () => base().png().toBuffer(),
  'image/webp': () => base().webp().toBuffer(),
  'image/avif': () => base().avif().toBuffer(),
  'image/gif': () => base().gif().toBuffer(),
};

/** Streams the bytes through the check in small, uneven chunks, as a network would. */
async function check(type: ImageType, bytes: Buffer, chunk = 7): Promise<boolean> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  try {
    await pipeline(Readable.from(parts), new ImageCompletenessCheck(type), new Writable({ write: (_c, _e, done) => done() }));
    return true;
  } catch {
    return false;
  }
}

describe('image type sniffing and completeness', () => {
  for (const type of Object.keys(images) as ImageType[]) {
    it(`recognises a whole ${type} and refuses it truncated`, async () => {
      const bytes = await images[type]();
      expect(await sniffUploadType(bytes.subarray(0, 4100))).toBe(type);
      expect(await check(type, bytes)).toBe(true);
      expect(await check(type, bytes, 1)).toBe(true);
      expect(await check(type, bytes.subarray(0, Math.floor(bytes.length * 0.6)))).toBe(false);
    });
  }

  it('refuses what is not one of the five image types, whatever its name', async () => {
    expect(await sniffUploadType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toBeNull();
    expect(await sniffUploadType(Buffer.from('just some text pretending to be a .jpg'))).toBeNull();
    expect(await sniffUploadType(Buffer.alloc(0))).toBeNull();
    expect(await sniffUploadType(Buffer.from('%PDF-1.7\n'))).toBeNull();
  });

  it('knows a HEIC photo (as iPhones take them) by its ftyp brand', async () => {
    expect(await sniffUploadType(heicFile())).toBe('heic');
  });

  it('runs on a sharp build that cannot decode HEIC: when this fails, sharp can, and uploads may convert HEIC instead of refusing it (decision 0042)', () => {
    expect(sharp.format.heif.input.fileSuffix).not.toContain('.heic');
  });
});
