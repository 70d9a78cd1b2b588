import exifr from 'exifr';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import type { ImageType } from './image-check.js';
import { withoutLocation } from './location.js';

const XMP = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 exif:GPSLatitude="51,30.0N" exif:GPSLongitude="0,7.0W" photoshop:City="London" dc:format="image/jpeg">
<exif:GPSAltitude>12/1</exif:GPSAltitude><dc:creator><rdf:Seq><rdf:li>Ada</rdf:li></rdf:Seq></dc:creator>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

/** A picture with a position in EXIF (GPS directory) and in XMP, a time taken and a camera. */
function located(encode: (image: Sharp) => Sharp): Promise<Buffer> {
  const image = sharp({ create: { width: 64, height: 48, channels: 3, background: '#357' } })
    .withExif({
      IFD0: { Make: 'EPU Test Camera' },
      IFD2: { DateTimeOriginal: '2024:05:06 07:08:09' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .withXmp(XMP);
  return encode(image).toBuffer();
}

/** What libvips (sharp) and exifr, readers independent of the code under test, find in an image. */
async function readMetadata(image: Buffer) {
  const metadata = await sharp(image).metadata();
  const exif = metadata.exif;
  const tiff = exif && exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
  return {
    exif: tiff ? await exifr.parse(tiff, { tiff: true, exif: true, gps: true }) : undefined,
    xmp: metadata.xmp?.toString('utf8'),
    pixels: await sharp(image).raw().toBuffer(),
  };
}

describe('withoutLocation', () => {
  it.each([
    ['image/jpeg', (s: Sharp) => s.jpeg()],
    ['image/png', (s: Sharp) => s.png()],
    ['image/webp', (s: Sharp) => s.webp()],
    ['image/avif', (s: Sharp) => s.avif()],
  ] as const)('removes the position from a %s and keeps its picture, time taken, camera and other XMP', async (type, encode) => {
    const original = await located(encode);
    const before = await readMetadata(original);
    expect(before.exif).toMatchObject({ GPSLatitudeRef: 'N' });
    expect(before.xmp).toContain('GPSLatitude');

    const cleaned = withoutLocation(type, original)!;
    expect(cleaned).not.toBeNull();
    const after = await readMetadata(cleaned);
    expect(Object.keys(after.exif ?? {}).filter((key) => key.startsWith('GPS'))).toEqual([]);
    expect(after.exif).toMatchObject({ Make: 'EPU Test Camera', DateTimeOriginal: new Date('2024-05-06T07:08:09Z') });
    expect(after.xmp).not.toMatch(/GPS|London|City/);
    expect(after.xmp).toContain('<rdf:li>Ada</rdf:li>');
    expect(after.pixels.equals(before.pixels)).toBe(true);
    // Nothing left to remove.
    expect(withoutLocation(type as ImageType, cleaned)).toBeNull();
  });

  it('leaves an image without a position alone', async () => {
    const plain = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .withExif({ IFD0: { Make: 'EPU Test Camera' } })
      .jpeg()
      .toBuffer();
    expect(withoutLocation('image/jpeg', plain)).toBeNull();
    expect(withoutLocation('image/png', await sharp(plain).png().toBuffer())).toBeNull();
  });

  it('drops a GIF’s XMP when it names a place, keeping every frame', async () => {
    const gif = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#a52' } })
      .gif()
      .toBuffer();
    // XMP in GIF: an application extension, the packet, and the "magic trailer" that ends its sub-blocks.
    const trailer = Buffer.from([0x01, ...Array.from({ length: 256 }, (_, i) => 255 - i), 0x00]);
    const extension = Buffer.concat([Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('XMP DataXMP', 'latin1'), Buffer.from(XMP), trailer]);
    const tableEnd = 13 + (gif[10]! & 0x80 ? 3 * 2 ** ((gif[10]! & 0x07) + 1) : 0);
    const located = Buffer.concat([gif.subarray(0, tableEnd), extension, gif.subarray(tableEnd)]);
    expect((await sharp(located).metadata()).width).toBe(16);

    const cleaned = withoutLocation('image/gif', located)!;
    expect(cleaned.toString('latin1')).not.toContain('GPS');
    expect(cleaned.equals(gif)).toBe(true);
  });
});
