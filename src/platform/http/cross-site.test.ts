import { describe, expect, it } from 'vitest';
import { crossSiteRefusal } from './cross-site.js';

const verdict = (method: string, headers: Record<string, string>) =>
  crossSiteRefusal({ method, headers }, 'https://epu.example.com')?.code ?? 'allowed';

describe('the cross-site guard', () => {
  it.each([
    [{ 'sec-fetch-site': 'same-origin' }, 'allowed'],
    [{ 'sec-fetch-site': 'none' }, 'allowed'],
    [{ 'sec-fetch-site': 'same-origin', origin: 'https://epu.example.com' }, 'allowed'],
    [{ origin: 'https://epu.example.com' }, 'allowed'],
    [{}, 'allowed'],
    // The browser's own verdict wins over an Origin that happens to match.
    [{ 'sec-fetch-site': 'cross-site', origin: 'https://epu.example.com' }, 'cross_site_request'],
    [{ 'sec-fetch-site': 'same-site', origin: 'https://epu.example.com' }, 'cross_site_request'],
    [{ 'sec-fetch-site': 'same-site' }, 'cross_site_request'],
    [{ 'sec-fetch-site': 'cross-site' }, 'cross_site_request'],
    [{ 'sec-fetch-site': 'anything-else' }, 'cross_site_request'],
    // Full origins: scheme and port count, the Host header never does.
    [{ origin: 'http://epu.example.com' }, 'cross_site_request'],
    [{ origin: 'https://epu.example.com:8443' }, 'cross_site_request'],
    [{ origin: 'https://evil.example', host: 'evil.example' }, 'cross_site_request'],
    [{ origin: 'http://epu.example.com', host: 'epu.example.com' }, 'cross_site_request'],
    [{ origin: 'null' }, 'cross_site_request'],
    [{ origin: 'not a url' }, 'cross_site_request'],
  ])('a POST with %j is %s', (headers, expected) => {
    expect(verdict('POST', headers)).toBe(expected);
  });

  it('never refuses a safe method', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(verdict(method, { 'sec-fetch-site': 'cross-site' })).toBe('allowed');
  });
});
