// Query values that name what every object inherits ("constructor", "__proto__")
// must look up nothing in the pages' message tables (issue 13).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { Client, futureIso, signUp } from './support/client.js';

const INHERITED = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

let t: TestApp;
let member: Client;
let admin: Client;
let eventId: string;

beforeAll(async () => {
  t = await startTestApp();
  member = (await signUp(t.url)).client;
  const created = await member.post('/api/v1/events', { title: 'Keys', startsAt: futureIso(), capacity: null, visibility: 'public' });
  eventId = created.body.id;
  const boss = await signUp(t.url);
  await t.services.accounts.setRole(boss.user.id, 'admin');
  admin = new Client(t.url);
  await admin.post('/api/v1/auth/login', { email: boss.email, password: boss.password });
});
afterAll(() => t.close());

function page(client: Client, path: string) {
  return client.request('GET', path, { headers: { accept: 'text/html' } });
}

describe('message tables keyed by the query string', () => {
  it.each(INHERITED)('?notice and ?upload of %j print nothing inherited', async (key) => {
    const pages = [
      page(member, `/me?notice=${key}`),
      page(member, `/events/${eventId}?notice=${key}`),
      page(new Client(t.url), `/events/${eventId}?notice=${key}`),
      page(member, `/events/${eventId}?upload=${key}`),
      page(admin, `/admin?notice=${key}`),
      page(admin, `/admin/flags?notice=${key}&flag=home.counters`),
    ];
    for (const response of await Promise.all(pages)) {
      expect(response.status).toBe(200);
      expect(response.text).not.toMatch(/function \w*\(|\[native code\]|\[object Object\]/);
    }
  });

  it('still shows the messages the tables hold', async () => {
    expect((await page(member, '/me?notice=password-changed')).text).toContain('Your password was changed');
    expect((await page(member, `/events/${eventId}?upload=too_large`)).text).toContain('A file was larger than allowed.');
  });
});
