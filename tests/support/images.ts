import sharp from 'sharp';

/** A real JPEG with EXIF: time taken, camera make and a GPS position (which derivatives must drop). */
export async function jpegWithExif(width = 640, height = 480): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 200 } } })
    .jpeg({ quality: 85 })
    .withExif({
      IFD0: { Make: 'EPU Test Camera' },
      IFD2: { DateTimeOriginal: '2024:05:06 07:08:09' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' },
    })
    .toBuffer();
}

export function png(width = 320, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 250, g: 180, b: 20, alpha: 1 } } })
    .png()
    .toBuffer();
}

/** A multipart/form-data body; each file is [field, filename, contentType, bytes]. */
export function multipart(
  files: [string, string, string, Buffer][],
  fields: Record<string, string> = {},
): { body: Buffer; contentType: string } {
  const boundary = '----epu-test-' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  for (const [field, filename, type, bytes] of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(filename)}\r\nContent-Type: ${type}\r\n\r\n`,
      ),
    );
    parts.push(bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
