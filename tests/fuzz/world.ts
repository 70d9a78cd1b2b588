// The state the fuzzer works against: one user per role with a session, and the
// things they own (events of each visibility, a full one, a booking, a ready
// photo, an export, a dead job). Hostile requests may delete any of it (an
// account, an event, a session), so `refresh()` puts back what is gone.
import { sql } from 'kysely';
import { SESSION_COOKIE } from '../../src/platform/http/cookies.js';
import type { TestApp } from '../support/app.js';
import { Client, futureIso } from '../support/client.js';
import { multipart, png } from '../support/images.js';

export const ROLES = ['anonymous', 'member', 'owner', 'admin'] as const;
export type RoleName = (typeof ROLES)[number];

export interface Identity {
  id: string;
  email: string;
  password: string;
  cookie: string;
}

export interface Fixtures {
  publicEvent: string;
  unlistedEvent: string;
  privateEvent: string;
  fullEvent: string;
  photo: string;
  exportId: string;
  deadJob: string;
}

const FIXTURE_ADDRESS = 'fuzz-fixtures';
/** The error the fixture's dead job carries: the stored-data check knows it from a job that really died. */
export const FIXTURE_JOB_ERROR = 'fuzz fixture';
let serial = 0;

export class World {
  readonly identities = new Map<Exclude<RoleName, 'anonymous'>, Identity>();
  fixtures!: Fixtures;
  /** Ids of every kind the database holds now (sampled), and cursors seen in answers. */
  pools = {
    events: [] as string[],
    photos: [] as string[],
    exports: [] as string[],
    jobs: [] as string[],
    users: [] as string[],
    cursors: [] as string[],
    media: [] as string[],
  };
  readonly imageBytes: Promise<Buffer> = png(64, 48);

  constructor(readonly t: TestApp) {}

  get db() {
    return this.t.platform.db;
  }

  cookieOf(role: RoleName): string | undefined {
    return role === 'anonymous' ? undefined : this.identities.get(role)?.cookie;
  }

  private sessionCookie(sessionId: string, userId: string): string {
    return `${SESSION_COOKIE}=${this.t.platform.keyring.seal({ sid: sessionId, uid: userId })}`;
  }

  private async newIdentity(role: Exclude<RoleName, 'anonymous'>): Promise<Identity> {
    const email = `fuzz-${role}-${process.pid}-${Date.now()}-${++serial}@example.test`;
    const password = `fuzz password ${serial}`;
    const accounts = this.t.services.accounts;
    if (role === 'admin') await accounts.createOrPromoteAdmin({ email, password, name: 'Fuzz admin' });
    else await accounts.signup({ email, password, name: `Fuzz ${role}` });
    const signedIn = await accounts.login({ email, password, address: FIXTURE_ADDRESS });
    return { id: signedIn.user.id, email, password, cookie: this.sessionCookie(signedIn.sessionId, signedIn.user.id) };
  }

  private client(role: Exclude<RoleName, 'anonymous'>): Client {
    const client = new Client(this.t.url);
    const [name, value] = this.identities.get(role)!.cookie.split(/=(.*)/s);
    client.cookies.set(name!, value!);
    return client;
  }

  private async createEvent(body: Record<string, unknown>): Promise<string> {
    const response = await this.client('owner').post('/api/v1/events', { title: 'Fuzz fixture', startsAt: futureIso(30), ...body });
    if (response.status !== 201) throw new Error(`fixture event: ${response.status} ${response.text}`);
    return response.body.id as string;
  }

  private async createFixtures(): Promise<Fixtures> {
    const [publicEvent, unlistedEvent, privateEvent, fullEvent] = [
      await this.createEvent({ capacity: 3, visibility: 'public' }),
      await this.createEvent({ capacity: null, visibility: 'unlisted' }),
      await this.createEvent({ capacity: 5, visibility: 'private' }),
      await this.createEvent({ capacity: 1, visibility: 'public' }),
    ];
    const member = this.client('member');
    for (const event of [publicEvent, fullEvent]) {
      const booked = await member.post(`/api/v1/events/${event}/bookings`);
      if (booked.status !== 201 && booked.status !== 200) throw new Error(`fixture booking: ${booked.status} ${booked.text}`);
    }
    const upload = multipart([['file', 'fixture.png', 'image/png', await this.imageBytes]]);
    const photo = await this.client('owner').request('POST', `/api/v1/events/${publicEvent}/photos`, {
      body: upload.body,
      headers: { 'content-type': upload.contentType },
    });
    if (photo.status !== 202) throw new Error(`fixture photo: ${photo.status} ${photo.text}`);
    const exported = await this.client('owner').post(`/api/v1/events/${publicEvent}/exports`);
    if (exported.status !== 202) throw new Error(`fixture export: ${exported.status} ${exported.text}`);
    // A dead job, for the retry operations: enqueued, then marked dead as the worker would.
    const deadJob = await this.t.platform.queue.enqueue(
      'stats.aggregate',
      {},
      { runAt: new Date(Date.now() + 86_400_000), maxAttempts: 1 },
    );
    await sql`UPDATE jobs SET status = 'dead', attempts = 1, last_error = ${FIXTURE_JOB_ERROR} WHERE id = ${deadJob}`.execute(this.db);
    return { publicEvent, unlistedEvent, privateEvent, fullEvent, photo: photo.body.photo.id, exportId: exported.body.export.id, deadJob };
  }

  private async sessionValid(identity: Identity | undefined): Promise<boolean> {
    if (!identity) return false;
    const opened = this.t.platform.keyring.unseal<{ sid: string; uid: string }>(identity.cookie.slice(SESSION_COOKIE.length + 1));
    return Boolean(opened && (await this.t.services.accounts.userForSession(opened.value.sid, opened.value.uid)));
  }

  private async fixturesIntact(): Promise<boolean> {
    if (!this.fixtures) return false;
    const f = this.fixtures;
    const events = await sql<{ id: string; visibility: string; capacity: number | null; owner_id: string }>`
      SELECT id, visibility, capacity, owner_id FROM events WHERE id IN (${f.publicEvent}, ${f.unlistedEvent}, ${f.privateEvent}, ${f.fullEvent})`.execute(
      this.db,
    );
    const byId = new Map(events.rows.map((row) => [row.id, row]));
    const owner = this.identities.get('owner')!.id;
    const expect: [string, string, number | null][] = [
      [f.publicEvent, 'public', 3],
      [f.unlistedEvent, 'unlisted', null],
      [f.privateEvent, 'private', 5],
      [f.fullEvent, 'public', 1],
    ];
    const eventsIntact = expect.every(([id, visibility, capacity]) => {
      const row = byId.get(id);
      return row && row.visibility === visibility && row.capacity === capacity && row.owner_id === owner;
    });
    const photo = await sql<{ n: number }>`SELECT count(*)::int AS n FROM photos WHERE id = ${f.photo}`.execute(this.db);
    const full = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM bookings WHERE event_id = ${f.fullEvent} AND status = 'confirmed'`.execute(this.db);
    return eventsIntact && photo.rows[0]!.n === 1 && full.rows[0]!.n === 1;
  }

  /** Puts back sessions, accounts, fixtures and switched-off flags that requests took away; refreshes the id pools. */
  async refresh(): Promise<void> {
    let ownerChanged = false;
    for (const role of ['member', 'owner', 'admin'] as const) {
      if (await this.sessionValid(this.identities.get(role))) continue;
      this.identities.set(role, await this.newIdentity(role));
      if (role === 'owner' || role === 'member') ownerChanged = true;
    }
    if (ownerChanged || !(await this.fixturesIntact())) this.fixtures = await this.createFixtures();
    // A retried dead job is queued again (no worker runs it): dead again, for the next retries.
    await sql`UPDATE jobs SET status = 'dead' WHERE id = ${this.fixtures.deadJob} AND status <> 'dead'`.execute(this.db);
    const switchedOff = await sql<{ name: string }>`
      SELECT name FROM feature_flags WHERE name IN ('photos.uploads', 'home.counters') AND (NOT enabled OR rollout_percentage < 100)`.execute(
      this.db,
    );
    for (const { name } of switchedOff.rows) {
      await this.t.services.flags.update(name, { enabled: true, rolloutPercentage: 100 }, { actorId: null, requestId: null, via: 'cli' });
    }
    // The newest rows: what the requests just made, without scanning tables that grow all run long.
    const sample = async (table: string) =>
      (await sql<{ id: string }>`SELECT id FROM ${sql.table(table)} ORDER BY created_at DESC LIMIT 12`.execute(this.db)).rows.map(
        (row) => row.id,
      );
    this.pools.events = await sample('events');
    this.pools.photos = await sample('photos');
    this.pools.exports = await sample('exports');
    this.pools.jobs = await sample('jobs');
    this.pools.users = await sample('users');
  }

  /** Cursors and media links seen in answers, to send back (and tamper with). */
  harvest(body: unknown): void {
    if (typeof body !== 'object' || body === null) return;
    const record = body as Record<string, unknown>;
    if (typeof record.nextCursor === 'string') keep(this.pools.cursors, record.nextCursor);
    for (const key of ['thumbnailUrl', 'url', 'displayUrl', 'downloadUrl']) {
      if (typeof record[key] === 'string') keep(this.pools.media, record[key]);
    }
    for (const value of Object.values(record)) if (typeof value === 'object') this.harvest(value);
  }
}

function keep(pool: string[], value: string): void {
  if (pool.includes(value)) return;
  pool.push(value);
  if (pool.length > 30) pool.shift();
}
