import { describe, expect, it } from 'vitest';
import { keyWeakness } from './secret-strength.js';

describe('keyWeakness', () => {
  it('accepts keys from a random source', () => {
    // Drawn once (openssl rand -base64 48, -base64 32 as base64url, -hex 16): a fresh draw is refused about once in 100,000.
    expect(keyWeakness('LwN0lEOTqlRktzIKbQIKW6K3tyDpqnlHzq0OvWejA4dcrnh+j6DrsEj2VVjd92/Z')).toBeNull();
    expect(keyWeakness('Z3e3neU-VssGY2oJ6lZ1oRJl76Cl7KjLv3WAZu9BbKM')).toBeNull();
    expect(keyWeakness('7d3178c41a70a8e92fca3224d3be68c6')).toBeNull();
  });

  it('refuses placeholders, typed runs and repetition', () => {
    expect(keyWeakness('test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz')).toMatch(/contains "secret"/);
    expect(keyWeakness('Qz9!kq0123456789Lm4#Rt7&Wp2@Xv5^')).toMatch(/run such as/);
    expect(keyWeakness('abababababababababababababababab')).toMatch(/about 32 bits/);
  });
});
