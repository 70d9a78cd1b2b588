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

/**
 * A HEIC file as far as any sniffer can tell: an ISO-BMFF `ftyp` box with the
 * `heic` brand (as an iPhone writes it), then an `mdat` box of filler.
 */
export function heicFile(): Buffer {
  const box = (type: string, payload: Buffer) => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(8 + payload.length);
    header.write(type, 4, 'latin1');
    return Buffer.concat([header, payload]);
  };
  const ftyp = box('ftyp', Buffer.concat([Buffer.from('heic', 'latin1'), Buffer.alloc(4), Buffer.from('mif1heic', 'latin1')]));
  return Buffer.concat([ftyp, box('mdat', Buffer.alloc(2048, 0x5a))]);
}

/** A multipart/form-data body; each file is [field, filename, contentType, bytes]. The fields come first unless `fieldsLast`. */
export function multipart(
  files: [string, string, string, Buffer][],
  fields: Record<string, string> = {},
  options: { fieldsLast?: boolean } = {},
): { body: Buffer; contentType: string } {
  const boundary = '----epu-test-' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  const fieldParts = Object.entries(fields).map(([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
  );
  if (!options.fieldsLast) parts.push(...fieldParts);
  for (const [field, filename, type, bytes] of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(filename)}\r\nContent-Type: ${type}\r\n\r\n`,
      ),
    );
    parts.push(bytes, Buffer.from('\r\n'));
  }
  if (options.fieldsLast) parts.push(...fieldParts);
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * A picture-like JPEG of any shape (a sky gradient, a sun, hills), with an EXIF
 * time taken: for galleries and screenshots where every photo should look distinct.
 */
export async function scenicJpeg(width: number, height: number, options: { hue?: number; takenAt?: string } = {}): Promise<Buffer> {
  const hue = options.hue ?? 210;
  const r = Math.min(width, height) / 6;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},70%,45%)"/><stop offset="1" stop-color="hsl(${(hue + 40) % 360},80%,80%)"/>
    </linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>
    <circle cx="${width * 0.7}" cy="${height * 0.35}" r="${r}" fill="hsl(${(hue + 180) % 360},90%,65%)"/>
    <path d="M0 ${height * 0.75} Q ${width * 0.3} ${height * 0.55} ${width * 0.6} ${height * 0.78} T ${width} ${height * 0.7} V ${height} H 0 Z" fill="hsl(${(hue + 90) % 360},45%,30%)"/>
  </svg>`;
  return sharp(Buffer.from(svg))
    .jpeg({ quality: 82 })
    .withExif({ IFD0: { Make: 'EPU Test Camera' }, IFD2: { DateTimeOriginal: options.takenAt ?? '2024:05:06 07:08:09' } })
    .toBuffer();
}
