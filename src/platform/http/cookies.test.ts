// Opened session cookies are remembered by their sealed token (cookies.ts):
// only tokens that opened, with the key that opened them, and never shared
// in a form a caller could change.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createKeyring, type Keyring } from '../security/keyring.js';
import { createSessionCookies, SESSION_COOKIE } from './cookies.js';

const NEW_KEY = 'n'.repeat(64);
const OLD_KEY = 'o'.repeat(64);
const claim = { sid: '0b5a4c1e-7d0f-4e54-9a55-3f6f0c8b1a01', uid: '6f1d2c3b-4a59-4e68-8b77-1c2d3e4f5a02' };

/** A real keyring that counts how often a cookie is opened. */
function countingKeyring(secrets: string[]): Keyring & { opens: number } {
  const keyring = createKeyring(secrets);
  const counted = {
    ...keyring,
    opens: 0,
    unseal<T>(token: string) {
      counted.opens++;
      return keyring.unseal<T>(token);
    },
  };
  return counted;
}

/** Session cookies over a counting keyring, and reading a request that carries `token`. */
function cookiesOver(secrets = [NEW_KEY]) {
  const keyring = countingKeyring(secrets);
  const cookies = createSessionCookies(keyring, false);
  const read = (token: string) => cookies.read({ cookies: { [SESSION_COOKIE]: token } } as unknown as FastifyRequest);
  return { keyring, read };
}

describe('reading the session cookie', () => {
  it('opens a token once and answers the same claim for it afterwards', () => {
    const { keyring, read } = cookiesOver();
    const token = keyring.seal(claim);
    expect(read(token)).toEqual({ claim, stale: false });
    expect(read(token)).toEqual({ claim, stale: false });
    expect(keyring.opens).toBe(1);
  });

  it('opens every token of its own: another session is never answered with a remembered claim', () => {
    const { keyring, read } = cookiesOver();
    const other = { sid: 'a1d3b6f0-1c2e-4f5a-8b9c-0d1e2f3a4b05', uid: 'c4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f06' };
    expect(read(keyring.seal(claim))?.claim).toEqual(claim);
    expect(read(keyring.seal(other))?.claim).toEqual(other);
    expect(keyring.opens).toBe(2);
  });

  it('does not remember a token that did not open: a tampered one is refused every time', () => {
    const { keyring, read } = cookiesOver();
    const token = keyring.seal(claim);
    const tampered = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    expect(read(tampered)).toBeNull();
    expect(read(tampered)).toBeNull();
    expect(keyring.opens).toBe(2);
    // The genuine token still opens.
    expect(read(token)?.claim).toEqual(claim);
  });

  it('remembers a token only as this server spells it: other spellings of a valid cookie open, but each is opened anew', () => {
    const { keyring, read } = cookiesOver();
    const token = keyring.seal(claim);
    // A base64url decoder skips characters outside its alphabet: countless strings open to the same claim.
    const respelt = [`${token.slice(0, 10)}!!${token.slice(10)}`, `${token.slice(0, 10)}%${' '.repeat(600)}${token.slice(10)}`];
    for (const spelling of respelt) {
      expect(read(spelling)?.claim).toEqual(claim);
      expect(read(spelling)?.claim).toEqual(claim);
    }
    expect(keyring.opens).toBe(4);
    read(token);
    read(token);
    expect(keyring.opens).toBe(5);
  });

  it('keeps saying a token sealed with an older key is stale, so each request re-seals it', () => {
    const sealedWithOld = createKeyring([OLD_KEY]).seal(claim);
    const { keyring, read } = cookiesOver([NEW_KEY, OLD_KEY]);
    expect(read(sealedWithOld)).toEqual({ claim, stale: true });
    expect(read(sealedWithOld)).toEqual({ claim, stale: true });
    expect(keyring.opens).toBe(1);
  });

  it('hands out a claim nobody can change for the next request', () => {
    const { keyring, read } = cookiesOver();
    const token = keyring.seal(claim);
    const first = read(token)!;
    expect(() => {
      (first.claim as { uid: string }).uid = 'someone-else';
    }).toThrow(TypeError);
    expect(read(token)?.claim.uid).toBe(claim.uid);
  });
});
