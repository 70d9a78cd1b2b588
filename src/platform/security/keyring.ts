import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/env.js';

// All secrets derive from the SECRET_KEY list, newest first. New seals and
// signatures use the newest key; every key in the list still opens and
// verifies, so rotating (prepend a new key, drop the oldest later) logs nobody
// out and breaks no signed link.

export type KeyPurpose = 'session' | 'csrf' | 'media' | 'functions';

interface DerivedKeys {
  session: Buffer;
  csrf: Buffer;
  media: Buffer;
  functions: Buffer;
}

function derive(secret: string): DerivedKeys {
  const key = (purpose: KeyPurpose) => Buffer.from(crypto.hkdfSync('sha256', secret, 'epu', `epu-${purpose}-v1`, 32));
  return { session: key('session'), csrf: key('csrf'), media: key('media'), functions: key('functions') };
}

export interface Keyring {
  /** Encrypts and authenticates a small JSON value (AES-256-GCM). */
  seal(value: unknown): string;
  /** The value, and whether it was sealed with an older key (and should be re-sealed); null if it does not open. */
  unseal<T>(token: string): { value: T; stale: boolean } | null;
  sign(purpose: Exclude<KeyPurpose, 'session'>, data: string): string;
  verify(purpose: Exclude<KeyPurpose, 'session'>, data: string, signature: string): boolean;
}

export function createKeyring(secrets: string[]): Keyring {
  if (secrets.length === 0) throw new Error('at least one secret key is required');
  const keys = secrets.map(derive);
  const newest = keys[0]!;

  return {
    seal(value) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', newest.session, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    unseal<T>(token: string) {
      const bytes = Buffer.from(token, 'base64url');
      if (bytes.length < 12 + 16 + 2) return null;
      const iv = bytes.subarray(0, 12);
      const tag = bytes.subarray(bytes.length - 16);
      const body = bytes.subarray(12, bytes.length - 16);
      for (let i = 0; i < keys.length; i++) {
        try {
          const decipher = crypto.createDecipheriv('aes-256-gcm', keys[i]!.session, iv);
          decipher.setAuthTag(tag);
          const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
          return { value: JSON.parse(plain) as T, stale: i > 0 };
        } catch {
          // not this key; try the next older one
        }
      }
      return null;
    },
    sign(purpose, data) {
      return crypto.createHmac('sha256', newest[purpose]).update(data).digest('base64url');
    },
    verify(purpose, data, signature) {
      const given = Buffer.from(signature, 'base64url');
      return keys.some((key) => {
        const expected = crypto.createHmac('sha256', key[purpose]).update(data).digest();
        return expected.length === given.length && crypto.timingSafeEqual(expected, given);
      });
    },
  };
}

/**
 * SECRET_KEY when set; in development and tests a key generated once and kept
 * under EPU_DATA_DIR, so sessions survive restarts. Staging and production
 * refuse to start without SECRET_KEY (checked in config).
 */
export function resolveSecretKeys(config: Config): string[] {
  if (config.secretKeys) return config.secretKeys;
  if (config.isProductionLike) throw new Error('SECRET_KEY: required when APP_ENV is ' + config.appEnv);
  const file = path.join(config.dataDir, 'secret-key');
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o755 });
  try {
    fs.writeFileSync(file, crypto.randomBytes(48).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return [fs.readFileSync(file, 'utf8').trim()];
}
