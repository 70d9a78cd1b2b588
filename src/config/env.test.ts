import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../platform/paths.js';
import { ConfigError, parseConfig, webProcesses } from './env.js';

// Drawn once with openssl rand -base64 48: a key production accepts.
const secret = 'LwN0lEOTqlRktzIKbQIKW6K3tyDpqnlHzq0OvWejA4dcrnh+j6DrsEj2VVjd92/Z';

describe('configuration', () => {
  it('runs on embedded defaults with nothing set', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      appEnv: 'development',
      port: 3000,
      metricsPort: 9464,
      databaseUrl: undefined,
      storageUrl: undefined,
      redisUrl: undefined,
      maxUploadBytes: 25 * 1024 * 1024,
    });
    expect(config.publicUrl.href).toBe('http://localhost:3000/');
  });

  it.each(['SECRET_KEY', 'DATABASE_URL', 'PUBLIC_URL'])('refuses to start production without %s', (missing) => {
    const env: Record<string, string> = {
      APP_ENV: 'production',
      SECRET_KEY: secret,
      DATABASE_URL: 'postgres://db/epu',
      PUBLIC_URL: 'https://epu.example',
    };
    delete env[missing];
    expect(() => parseConfig(env)).toThrow(new ConfigError(missing, 'required when APP_ENV is production'));
  });

  it.each([
    ['PORT', 'eighty', /PORT: expected a whole number/],
    ['PORT', '70000', /PORT: expected a whole number between 0 and 65535/],
    ['APP_ENV', 'prod', /APP_ENV: expected one of development, test, staging, production/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a URL starting with postgres: or postgresql:/],
    ['STORAGE_URL', 'not a url', /STORAGE_URL: expected a URL/],
    ['SECRET_KEY', 'short', /SECRET_KEY: expected a comma-separated list of keys/],
    ['LOG_PRETTY', 'maybe', /LOG_PRETTY: expected true or false/],
    ['PUBLIC_PAGE_CACHE_SECONDS', '31', /PUBLIC_PAGE_CACHE_SECONDS: expected a whole number between 0 and 30/],
    ['PUBLIC_PAGE_CACHE_SECONDS', '-1', /PUBLIC_PAGE_CACHE_SECONDS: expected a whole number/],
    ['PUBLIC_PAGE_CACHE_SECONDS', 'ten', /PUBLIC_PAGE_CACHE_SECONDS: expected a whole number/],
    ['WEB_CONCURRENCY', '0', /WEB_CONCURRENCY: expected a whole number between 1 and 64, got 0/],
    ['WEB_CONCURRENCY', 'auto', /WEB_CONCURRENCY: expected a whole number/],
  ])('names the variable and what is expected when %s=%s', (name, value, message) => {
    expect(() => parseConfig({ [name]: value })).toThrow(message);
  });

  describe('in staging and production', () => {
    const production = { APP_ENV: 'production', SECRET_KEY: secret, DATABASE_URL: 'postgres://db/epu', PUBLIC_URL: 'https://epu.example' };

    it.each(['production', 'staging'])('refuses an http:// PUBLIC_URL in %s, in one line that names the way out', (appEnv) => {
      expect(() => parseConfig({ ...production, APP_ENV: appEnv, PUBLIC_URL: 'http://epu.example' })).toThrow(
        new ConfigError(
          'PUBLIC_URL',
          `must be https:// when APP_ENV is ${appEnv} (session cookies are Secure and HSTS is sent only then); set TLS_AT_PROXY=true only if TLS ends at a proxy in front that sets X-Forwarded-Proto`,
        ),
      );
      expect(
        parseConfig({ ...production, APP_ENV: appEnv, PUBLIC_URL: 'http://epu.example', TLS_AT_PROXY: 'true' }).publicUrl.protocol,
      ).toBe('http:');
      expect(parseConfig({ PUBLIC_URL: 'http://localhost:3000' }).publicUrl.protocol).toBe('http:');
    });

    it.each([
      ['test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz', /^SECRET_KEY: the key is weak: contains "secret"/],
      ['local-compose-secret-key-change-me-0123456789abcdef', /^SECRET_KEY: the key is weak: contains "local"/],
      ['x'.repeat(40), /^SECRET_KEY: the key is weak: about 0 bits of randomness/],
      [`${secret},abababababababababababababababab`, /^SECRET_KEY: key 2 of 2 is weak: about 32 bits/],
      [`${secret},${secret}`, /^SECRET_KEY: key 2 of 2 repeats key 1/],
    ])('refuses a weak or repeated SECRET_KEY (%s) with a one-line reason', (key, reason) => {
      let error: unknown;
      try {
        parseConfig({ ...production, SECRET_KEY: key });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).toContain('openssl rand -base64 48');
      expect((error as Error).message).not.toContain('\n');
      // Development and tests take any key of 32 characters or more.
      expect(parseConfig({ SECRET_KEY: key }).secretKeys).toBeDefined();
    });
  });

  it('takes Google identity settings for the functions host: audiences, the callers they need, Google’s keys by default', () => {
    expect(parseConfig({}).functionsGoogle).toBeUndefined();
    expect(
      parseConfig({
        FUNCTIONS_GOOGLE_AUDIENCE: 'https://f.example, https://g.example',
        FUNCTIONS_GOOGLE_CALLERS: 'events@p.iam.gserviceaccount.com',
      }).functionsGoogle,
    ).toEqual({
      audiences: ['https://f.example', 'https://g.example'],
      callers: ['events@p.iam.gserviceaccount.com'],
      jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
    });
    expect(() => parseConfig({ FUNCTIONS_GOOGLE_AUDIENCE: 'https://f.example' })).toThrow(/^FUNCTIONS_GOOGLE_CALLERS: required/);
    expect(() => parseConfig({ FUNCTIONS_GOOGLE_AUDIENCE: 'f.example', FUNCTIONS_GOOGLE_CALLERS: 'a@b' })).toThrow(
      /^FUNCTIONS_GOOGLE_AUDIENCE: expected https:\/\/ URLs/,
    );
  });

  it('lets commands that hold no secrets (epu migrate) run in production without SECRET_KEY', () => {
    const env = { APP_ENV: 'production', DATABASE_URL: 'postgres://db/epu', PUBLIC_URL: 'https://epu.example' };
    expect(parseConfig(env, { requireSecretKey: false }).secretKeys).toBeUndefined();
  });

  it('takes a SECRET_KEY list, newest first', () => {
    expect(parseConfig({ SECRET_KEY: `${'a'.repeat(32)}, ${'b'.repeat(32)}` }).secretKeys).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
  });

  it('runs one web process in a container and one per core under epu start, unless WEB_CONCURRENCY says', () => {
    const production = { APP_ENV: 'production', SECRET_KEY: secret, DATABASE_URL: 'postgres://db/epu', PUBLIC_URL: 'https://epu.example' };
    expect(webProcesses(parseConfig({}), 'web')).toBe(1);
    expect(webProcesses(parseConfig({}), 'start')).toBe(os.availableParallelism());
    expect(webProcesses(parseConfig(production), 'start')).toBe(1);
    expect(webProcesses(parseConfig({ WEB_CONCURRENCY: '3' }), 'web')).toBe(3);
    expect(webProcesses(parseConfig({ ...production, WEB_CONCURRENCY: '2' }), 'start')).toBe(2);
  });

  it('gives the backup copy its own S3 settings, each defaulting to the S3_* one', () => {
    expect(parseConfig({}).backupCopy).toBeUndefined();
    const shared = { S3_ENDPOINT: 'https://s3.example', S3_REGION: 'eu-west-2', S3_FORCE_PATH_STYLE: 'true' };
    expect(parseConfig({ ...shared, BACKUP_COPY_URL: 's3://copies' }).backupCopy).toEqual({
      storageUrl: 's3://copies',
      s3Endpoint: 'https://s3.example',
      s3Region: 'eu-west-2',
      s3ForcePathStyle: true,
    });
    const own = {
      BACKUP_COPY_S3_ENDPOINT: 'https://other.example',
      BACKUP_COPY_S3_REGION: 'eu-west-1',
      BACKUP_COPY_S3_FORCE_PATH_STYLE: 'no',
    };
    expect(parseConfig({ ...shared, ...own, BACKUP_COPY_URL: 's3://copies' }).backupCopy).toEqual({
      storageUrl: 's3://copies',
      s3Endpoint: 'https://other.example',
      s3Region: 'eu-west-1',
      s3ForcePathStyle: false,
    });
    expect(() => parseConfig({ BACKUP_COPY_URL: 'https://copies' })).toThrow(/BACKUP_COPY_URL: expected a URL starting with file: or s3:/);
  });

  it('takes SMTP_URL (smtp or smtps) and MAIL_FROM, defaulting the From to the public host', () => {
    expect(parseConfig({ PUBLIC_URL: 'https://epu.example' })).toMatchObject({
      smtpUrl: undefined,
      mailFrom: 'EPU <no-reply@epu.example>',
    });
    const config = parseConfig({ SMTP_URL: 'smtps://user:pass@smtp.example:465', MAIL_FROM: 'Events <events@epu.example>' });
    expect(config).toMatchObject({ smtpUrl: 'smtps://user:pass@smtp.example:465', mailFrom: 'Events <events@epu.example>' });
    expect(parseConfig({ MAIL_FROM: 'events@epu.example' }).mailFrom).toBe('events@epu.example');
    expect(() => parseConfig({ SMTP_URL: 'http://smtp.example' })).toThrow(/SMTP_URL: expected a URL starting with smtp: or smtps:/);
    for (const from of ['EPU <a@b>\r\nBcc: eve@evil.example', 'no address here', 'a@b, c@d', 'EPU <a@b'])
      expect(() => parseConfig({ MAIL_FROM: from }), from).toThrow(/MAIL_FROM: expected an address/);
  });

  it('documents every variable it reads in .env.example', () => {
    const source = fs.readFileSync(path.join(packageRoot, 'src/config/env.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\(env, '([A-Z_]+)'/g)].map((m) => m[1]!));
    read.add('SECRET_KEY').add('DATABASE_URL').add('PUBLIC_URL');
    const example = fs.readFileSync(path.join(packageRoot, '.env.example'), 'utf8');
    const missing = [...read].filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });
});
