// Storage events from GCP Eventarc carry a Google-signed OIDC identity token
// instead of FUNCTIONS_TOKEN (issue 13). Here a local key server plays Google's
// published keys and tokens are signed locally, so every check of the token
// can be seen to hold: signature, issuer, audience, time, caller.
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, testEnv, type TestApp } from '../../../tests/support/app.js';
import { freePort, spawnEpu } from '../../../tests/support/process.js';
import { createFunctionHandlers } from '../../app.js';
import { createGoogleIdentityVerifier } from './google-identity.js';
import { createFunctionsServer } from './server.js';

const AUDIENCE = 'https://epu-prod-functions-123456789.europe-west1.run.app';
const CALLER = 'epu-prod-events@epu-prod.iam.gserviceaccount.com';

interface SigningKey {
  kid: string;
  privateKey: crypto.KeyObject;
  jwk: crypto.JsonWebKey;
}
function signingKey(kid: string): SigningKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

// One clock for signing and verifying, moved on by hand: nothing here depends on how fast the test runs.
const START = Date.now();
let clockAheadMs = 0;
const clock = () => START + clockAheadMs;
const nowSeconds = () => Math.floor(clock() / 1000);

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token as Google signs them: RS256 over header.claims, named by the key's kid. */
function token(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string {
  const seconds = nowSeconds();
  const body = `${encode({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header })}.${encode({
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    azp: '1234567890',
    sub: '1234567890',
    email: CALLER,
    email_verified: true,
    iat: seconds,
    exp: seconds + 3600,
    ...claims,
  })}`;
  return `${body}.${crypto.sign('RSA-SHA256', Buffer.from(body), key.privateKey).toString('base64url')}`;
}

/** A "storage object finalized" event in binary mode, as Eventarc delivers it. */
function storageEvent() {
  const event = new CloudEvent({
    type: 'google.cloud.storage.object.v1.finalized',
    source: '//storage.googleapis.com/projects/_/buckets/epu-prod-media',
    subject: 'objects/originals/2030/01/not-a-photo.jpg',
    datacontenttype: 'application/json',
    data: { bucket: 'epu-prod-media', name: 'originals/2030/01/not-a-photo.jpg' },
  });
  const message = HTTP.binary(event);
  return { headers: message.headers as Record<string, string>, body: message.body as string };
}

let t: TestApp;
let keyServer: http.Server;
let served: SigningKey[];
let keyRequests = 0;
let keysUnavailable = false;
let server: ReturnType<typeof createFunctionsServer>;
const google = signingKey('google-1');

beforeAll(async () => {
  t = await startTestApp();
  served = [google];
  keyServer = http.createServer((_request, response) => {
    keyRequests++;
    if (keysUnavailable) return void response.writeHead(500).end();
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=21600' });
    response.end(JSON.stringify({ keys: served.map((key) => key.jwk) }));
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  server = createFunctionsServer({
    handlers: createFunctionHandlers(t.platform),
    token: t.platform.functionsToken,
    googleIdentity: createGoogleIdentityVerifier(
      {
        audiences: [AUDIENCE],
        callers: [CALLER],
        jwksUrl: `http://127.0.0.1:${(keyServer.address() as net.AddressInfo).port}/oauth2/v3/certs`,
      },
      clock,
    ),
    logger: t.platform.logger,
    isShuttingDown: () => false,
    databaseCheck: async () => 'ok',
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => keyServer?.close(resolve));
  await t?.close();
});

async function deliver(name: string, bearer: string, port = (server.server.address() as net.AddressInfo).port) {
  const event = storageEvent();
  const response = await fetch(`http://127.0.0.1:${port}/${name}`, {
    method: 'POST',
    headers: { ...event.headers, authorization: `Bearer ${bearer}` },
    body: event.body,
  });
  return response.status;
}

describe('Google-signed identity tokens (Eventarc)', () => {
  it('run photoUploaded for a token Google signed for this service and the trigger’s service account', async () => {
    expect(await deliver('photoUploaded', token(google))).toBe(204);
    expect(await deliver('photoUploaded', token(google, { iss: 'accounts.google.com' }))).toBe(204);
    // The shared token still works alongside.
    expect(await deliver('photoUploaded', t.platform.functionsToken)).toBe(204);
  });

  it.each([
    ['another audience', { aud: 'https://evil.example' }, {}],
    ['another issuer', { iss: 'https://evil.example' }, {}],
    ['expired', { exp: nowSeconds() - 600, iat: nowSeconds() - 4200 }, {}],
    ['issued in the future', { iat: nowSeconds() + 600 }, {}],
    ['another service account', { email: 'someone@evil.iam.gserviceaccount.com' }, {}],
    ['an unverified email', { email_verified: false }, {}],
    ['no email', { email: undefined }, {}],
    ['alg none', {}, { alg: 'none' }],
    ['alg HS256', {}, { alg: 'HS256' }],
  ])('refuse a token with %s (401)', async (_case, claims, header) => {
    expect(await deliver('photoUploaded', token(google, claims, header))).toBe(401);
  });

  it('refuse a token signed by a key Google did not publish, or altered after signing', async () => {
    const forger = signingKey('google-1'); // Google's kid, another key
    expect(await deliver('photoUploaded', token(forger))).toBe(401);
    const [header, , signature] = token(google).split('.');
    const altered = `${header}.${encode({ iss: 'https://accounts.google.com', aud: AUDIENCE, email: CALLER, email_verified: true, iat: 0, exp: 9e9 })}.${signature}`;
    expect(await deliver('photoUploaded', altered)).toBe(401);
    expect(await deliver('photoUploaded', 'not.a.token')).toBe(401);
  });

  it('let a Google identity call only photoUploaded, the storage trigger', async () => {
    expect(await deliver('auditLog', token(google))).toBe(401);
  });

  it('follow Google’s key rotation: a token under a new key is checked against the keys fetched again', async () => {
    const rotated = signingKey('google-2');
    const before = keyRequests;
    // Published after the cached set was read: once a minute has passed, the unknown kid makes the host read the keys again.
    served = [google, rotated];
    expect(await deliver('photoUploaded', token(rotated))).toBe(401);
    expect(keyRequests).toBe(before);
    clockAheadMs = 61_000;
    expect(await deliver('photoUploaded', token(rotated))).toBe(204);
    expect(keyRequests).toBe(before + 1);
    // Unknown kids do not make every request fetch the keys again (at most once a minute).
    expect(await deliver('photoUploaded', token(signingKey('google-3')))).toBe(401);
    expect(await deliver('photoUploaded', token(signingKey('google-4')))).toBe(401);
    expect(keyRequests).toBe(before + 1);
  });

  it('answer 503 while the keys cannot be read, so that Eventarc retries instead of dropping the event', async () => {
    keysUnavailable = true;
    clockAheadMs += 61_000;
    try {
      expect(await deliver('photoUploaded', token(signingKey('google-5')))).toBe(503);
    } finally {
      keysUnavailable = false;
    }
  });

  it('work in `epu functions` as deployed: FUNCTIONS_GOOGLE_AUDIENCE and FUNCTIONS_GOOGLE_CALLERS set', async () => {
    const port = await freePort();
    const functions = spawnEpu(
      ['functions'],
      testEnv(t.database, {
        FUNCTIONS_PORT: String(port),
        METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
        FUNCTIONS_GOOGLE_AUDIENCE: `https://elsewhere.example,${AUDIENCE}`,
        FUNCTIONS_GOOGLE_CALLERS: CALLER,
        FUNCTIONS_GOOGLE_JWKS_URL: `http://127.0.0.1:${(keyServer.address() as net.AddressInfo).port}/oauth2/v3/certs`,
      }),
    );
    try {
      await functions.waitForLog(/functions ready/);
      // Its own clock: a token signed now.
      clockAheadMs = Date.now() - START;
      expect(await deliver('photoUploaded', token(google), port)).toBe(204);
      expect(await deliver('photoUploaded', token(google, { aud: 'https://evil.example' }), port)).toBe(401);
      expect(await deliver('auditLog', token(google), port)).toBe(401);
    } finally {
      await functions.stop();
    }
  });
});
