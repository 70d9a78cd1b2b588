import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Config } from '../../config/env.js';
import type { Logger } from '../observability/logger.js';
import type { Keyring } from '../security/keyring.js';
import { createFileStorage } from './file-storage.js';
import { createS3Storage } from './s3-storage.js';
import { isValidKey, type ObjectStorage, type StorageHooks } from './storage.js';

export type StorageConfig = Pick<
  Config,
  'storageUrl' | 'dataDir' | 'publicUrl' | 's3Endpoint' | 's3Region' | 's3ForcePathStyle' | 'cdnBaseUrl'
>;

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/optional/prefix` as a bucket and a key prefix ('' or ending in '/'). */
export function parseS3Url(storageUrl: string): { bucket: string; prefix: string } {
  const url = new URL(storageUrl);
  const bucket = url.host;
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  if (!S3_BUCKET.test(bucket) || url.search || url.hash || (prefix && !isValidKey(prefix))) {
    throw new ConfigError(
      'STORAGE_URL',
      'expected s3://bucket or s3://bucket/prefix: a bucket name (lowercase letters, digits, dots, hyphens) and a plain path of letters, digits, . _ -',
    );
  }
  return { bucket, prefix: prefix ? `${prefix}/` : '' };
}

/** `file://` alone means the default directory; `file:///abs/path` names one. */
export function fileStorageRoot(config: Pick<Config, 'storageUrl' | 'dataDir'>): string {
  const url = config.storageUrl ? new URL(config.storageUrl) : undefined;
  if (!url || url.pathname === '' || url.pathname === '/') return path.join(config.dataDir, 'storage');
  try {
    return fileURLToPath(url);
  } catch {
    throw new ConfigError('STORAGE_URL', 'expected file:///absolute/path (three slashes), or file:// for the default under EPU_DATA_DIR');
  }
}

/**
 * The STORAGE_URL dial. Unset or file://: local disk under EPU_DATA_DIR, fine
 * for one machine. s3://bucket: an S3-compatible store, needed once web and
 * worker replicas run on machines that do not share a disk.
 */
export function createStorage(config: StorageConfig, keyring: Keyring, logger: Logger, hooks: StorageHooks = {}): ObjectStorage {
  if (config.storageUrl?.startsWith('s3:')) {
    const { bucket, prefix } = parseS3Url(config.storageUrl);
    logger.info({ bucket, prefix, endpoint: config.s3Endpoint ?? 'aws', cdn: Boolean(config.cdnBaseUrl) }, 'storage: s3');
    return createS3Storage({
      bucket,
      prefix,
      endpoint: config.s3Endpoint,
      region: config.s3Region,
      forcePathStyle: config.s3ForcePathStyle,
      cdnBaseUrl: config.cdnBaseUrl,
      ...hooks,
    });
  }
  const root = fileStorageRoot(config);
  logger.info({ root }, 'storage: local disk');
  if (config.cdnBaseUrl)
    logger.warn('CDN_BASE_URL is ignored with file storage: a CDN needs an object store as its origin (STORAGE_URL=s3://...)');
  return createFileStorage({ root, publicUrl: config.publicUrl, keyring, ...hooks });
}
