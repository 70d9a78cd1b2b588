import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { publicDir } from '../platform/paths.js';

// Asset links carry a content hash, so the files can be cached for a year and a
// new release is still picked up at once.
const versions = new Map<string, string>();

export function assetUrl(file: string): string {
  let version = versions.get(file);
  if (!version) {
    version = crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(publicDir, file)))
      .digest('hex')
      .slice(0, 10);
    versions.set(file, version);
  }
  return `/assets/${file}?v=${version}`;
}
