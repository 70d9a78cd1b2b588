// `epu seed`: demo data (users, events, bookings, photos) so that a fresh
// system has something to show, made through the same services as real use.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { Config } from '../../config/env.js';
import { createPlatform, createRootLogger, createServices, type Platform, type Services } from '../../app.js';
import { parseCommandArgs, UsageError } from '../../platform/cli/args.js';
import { createReporter, type Reporter } from '../../platform/cli/reporter.js';
import { ensureSchemaCurrent } from '../../platform/db/migrate.js';
import { AppError } from '../../platform/http/errors.js';
import { createAccountsRepository } from '../../features/accounts/accounts.repository.js';
import type { PublicUser } from '../../features/accounts/accounts.service.js';
import type { EventRow } from '../../features/events/events.types.js';
import type { Viewer } from '../../features/accounts/accounts.types.js';
import { FLAGS } from '../../features/flags/flags.service.js';
import { signedInBooker } from '../../features/bookings/bookings.service.js';

export const SEED_USAGE = 'usage: epu seed [--users N] [--events N] [--photos N] [--password-file PATH] [--force]';

/** Every seeded account has an address under this domain (`.invalid` never resolves, so no mail can reach anyone). */
export const SEED_EMAIL_DOMAIN = 'seed.epu.invalid';
export const seedEmail = (n: number) => `demo-${n}@${SEED_EMAIL_DOMAIN}`;

const DEFAULTS = { users: 20, events: 10, photos: 3 };
const LIMITS = { users: [1, 10_000], events: [0, 10_000], photos: [0, 50] } as const;
/** Photos go to this many of the events made in a run (the first ones), `--photos` each. */
const EVENTS_WITH_PHOTOS = 3;
/** Events are owned by this many of the first demo users (demo-1 … demo-3). */
const OWNERS = 3;
/** Environments where a password may be generated and shown. */
const SHOW_GENERATED_PASSWORD_IN = new Set(['development', 'test']);

export interface SeedOptions {
  users: number;
  events: number;
  photos: number;
  password: { source: 'env' | 'file' | 'generate'; value?: string; file?: string };
  force: boolean;
}

/** A mistake in how the command was called: exit 2, nothing written (as opposed to a failure while running, exit 1). */
const refused = (reason: string) => new UsageError(reason, 2);

const expectsCount = (name: keyof typeof LIMITS) => `a whole number from ${LIMITS[name][0]} to ${LIMITS[name][1]}`;
const SEED_OPTIONS = {
  users: { type: 'string', expects: expectsCount('users') },
  events: { type: 'string', expects: expectsCount('events') },
  photos: { type: 'string', expects: expectsCount('photos') },
  'password-file': { type: 'string', expects: 'a path' },
  force: { type: 'boolean' },
} as const;

function count(raw: string | undefined, name: keyof typeof LIMITS): number {
  if (raw === undefined) return DEFAULTS[name];
  const [min, max] = LIMITS[name];
  if (!/^\d+$/.test(raw.trim())) throw refused(`--${name} expects ${expectsCount(name)}, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw refused(`--${name} must be from ${min} to ${max}, got ${value}`);
  return value;
}

/** Everything that can be checked before anything is written: flags, environment, password. */
export function parseSeedArgs(
  args: string[],
  appEnv: string,
  /** EPU_SEED_PASSWORD (Config.operatorPasswords.seed). */
  envPassword: string | undefined,
): SeedOptions {
  const { values, positionals } = parseCommandArgs(args, SEED_OPTIONS, SEED_USAGE);
  if (positionals.length) throw refused(`unexpected argument "${positionals[0]}"; ${SEED_USAGE}`);
  const force = values.force === true;
  const options = {
    users: count(values.users, 'users'),
    events: count(values.events, 'events'),
    photos: count(values.photos, 'photos'),
    force,
  };

  if (appEnv === 'production' && !force)
    throw refused('refusing to seed demo data into a production database (APP_ENV=production); add --force if that is really meant');

  let password: SeedOptions['password'];
  const file = values['password-file'];
  if (file !== undefined) {
    let value: string;
    try {
      value = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw refused(`cannot read --password-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    password = { source: 'file', value, file };
  } else if (envPassword) {
    password = { source: 'env', value: envPassword };
  } else if (SHOW_GENERATED_PASSWORD_IN.has(appEnv)) {
    password = { source: 'generate' };
  } else {
    throw refused(
      `set EPU_SEED_PASSWORD or pass --password-file PATH: a password is generated and shown only when APP_ENV is development or test (it is ${appEnv})`,
    );
  }
  // The same rule as signup (accounts.schema Password); the password itself is never echoed.
  if (password.value !== undefined && (password.value.length < 8 || password.value.length > 200)) {
    throw refused(
      `the demo password (${password.source === 'file' ? `--password-file ${file}` : 'EPU_SEED_PASSWORD'}) must be 8 to 200 characters`,
    );
  }
  return { ...options, password };
}

// ---------------------------------------------------------------- demo content

const FIRST_NAMES = [
  'Ada',
  'Ben',
  'Chloé',
  'Dmitri',
  'Elif',
  'Farah',
  'Gabriel',
  'Hana',
  'Ivo',
  'Jun',
  'Kofi',
  'Lena',
  'Mateo',
  'Nia',
  'Oskar',
  'Priya',
  'Quentin',
  'Rosa',
  'Sami',
  'Tomás',
  'Uma',
  'Viktor',
  'Wen',
  'Yara',
  'Zoë',
];
const LAST_NAMES = [
  'Okafor',
  'Lindqvist',
  'Moreau',
  'Novak',
  'Tanaka',
  'Silva',
  'Byrne',
  'Haddad',
  'Kowalski',
  'Jensen',
  'Rossi',
  'Mensah',
  'Petrov',
  'García',
  'Nakamura',
  'Müller',
  "O'Brien",
  'Costa',
  'Ahmed',
  'Fischer',
  'Dubois',
  'Ivanova',
  'Kim',
];

export function seedName(n: number): string {
  const i = n - 1;
  return `${FIRST_NAMES[i % FIRST_NAMES.length]} ${LAST_NAMES[(i * 7 + Math.floor(i / FIRST_NAMES.length)) % LAST_NAMES.length]}`;
}

interface EventTemplate {
  title: string;
  venue: string;
  description: string;
  visibility: 'public' | 'unlisted' | 'private';
  hour: number;
  hours: number;
  capacity: number | null;
  /** How many people try to book, as a share of the capacity (of everyone, when unlimited): above 1 fills the event. */
  demand: number;
}

// In this order: any five in a row include a public, an unlisted, a private and a full event.
const EVENT_TEMPLATES: EventTemplate[] = [
  {
    title: 'Sunrise yoga in the park',
    venue: 'Riverside Park, east lawn',
    visibility: 'public',
    hour: 7,
    hours: 1.5,
    capacity: 25,
    demand: 0.6,
    description: 'An easy flow for every level as the sun comes up. Bring a mat and water; tea afterwards.',
  },
  {
    title: 'Street photography walk: Old Town',
    venue: 'Old Town Square, by the fountain',
    visibility: 'public',
    hour: 10,
    hours: 3,
    capacity: 12,
    demand: 0.8,
    description: 'Three hours through the lanes of the old town with a short talk on light and framing. Any camera or phone will do.',
  },
  {
    title: 'Board game night',
    venue: 'The Dice Tower café',
    visibility: 'unlisted',
    hour: 19,
    hours: 4,
    capacity: 16,
    demand: 0.7,
    description: 'Hundreds of games on the shelves and people who know the rules. Newcomers welcome; share the link with friends.',
  },
  {
    title: 'Intro to film photography',
    venue: 'Darkroom Collective, studio 2',
    visibility: 'public',
    hour: 18,
    hours: 2,
    capacity: 5,
    demand: 2,
    description: 'Load a roll, shoot it around the block and develop it together. Five places: the darkroom is small.',
  },
  {
    title: 'Team retrospective',
    venue: 'Meeting room 3',
    visibility: 'private',
    hour: 14,
    hours: 2,
    capacity: 10,
    demand: 0.9,
    description: 'What went well, what did not, and what we try next quarter.',
  },
  {
    title: 'Community garden workday',
    venue: 'Elm Street community garden',
    visibility: 'public',
    hour: 9,
    hours: 5,
    capacity: null,
    demand: 0.5,
    description: 'Weeding, planting out and building a new compost bay. Gloves and lunch provided.',
  },
  {
    title: 'Jazz in the courtyard',
    venue: 'Central Library courtyard',
    visibility: 'public',
    hour: 20,
    hours: 3,
    capacity: 80,
    demand: 0.4,
    description: 'A quartet under the lights of the library courtyard. Bring a blanket; the bar is open.',
  },
  {
    title: 'Portrait lighting for beginners',
    venue: 'Studio Lumen',
    visibility: 'public',
    hour: 17,
    hours: 2.5,
    capacity: 8,
    demand: 1.2,
    description: 'One light, one reflector and a patient model: how far that gets you.',
  },
  {
    title: 'Trail run and breakfast',
    venue: 'North Gate trailhead',
    visibility: 'unlisted',
    hour: 8,
    hours: 3,
    capacity: 30,
    demand: 0.5,
    description: '10 km on forest trails at a chatty pace, then pancakes at the lodge.',
  },
  {
    title: 'Birthday picnic by the lake',
    venue: 'Lakeside meadow, near the boathouse',
    visibility: 'private',
    hour: 13,
    hours: 4,
    capacity: 20,
    demand: 0.8,
    description: 'Cake, games and a swim if the weather holds. Family and friends only.',
  },
  {
    title: 'Open mic and poetry',
    venue: 'The Lantern',
    visibility: 'public',
    hour: 20,
    hours: 3,
    capacity: 40,
    demand: 0.6,
    description: 'Five minutes each, any language, any form. Sign up at the door.',
  },
  {
    title: 'Astronomy night: the Perseids',
    venue: 'Hill Observatory car park',
    visibility: 'public',
    hour: 22,
    hours: 4,
    capacity: 50,
    demand: 0.7,
    description: 'Telescopes pointed at the planets until the meteors start. Dress warmly.',
  },
  {
    title: 'Neighbourhood clean-up',
    venue: 'Meet at the Central Station clock',
    visibility: 'public',
    hour: 10,
    hours: 3,
    capacity: null,
    demand: 0.4,
    description: 'Litter pickers and bags provided; coffee at the end on the house.',
  },
];

function eventInput(k: number, now: Date) {
  const template = EVENT_TEMPLATES[(k - 1) % EVENT_TEMPLATES.length]!;
  const round = Math.floor((k - 1) / EVENT_TEMPLATES.length);
  const startsAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1 + ((k * 3) % 42), template.hour));
  return {
    template,
    input: {
      title: round ? `${template.title} (${round + 1})` : template.title,
      description: `${template.description}\n\nDemo data made by epu seed.`,
      venue: template.venue,
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + template.hours * 3_600_000).toISOString(),
      capacity: template.capacity,
      visibility: template.visibility,
    },
  };
}

const PALETTES: [string, string, string][] = [
  ['#ff9a5a', '#7b2ff7', '#ffe29f'],
  ['#0f2027', '#2c5364', '#9be7ff'],
  ['#f7971e', '#ffd200', '#fff6d5'],
  ['#134e5e', '#71b280', '#e8ffd9'],
  ['#ee0979', '#ff6a00', '#ffe0c2'],
  ['#1d2b64', '#f8cdda', '#ffffff'],
];

/** A small, valid picture (a sky gradient, a horizon and out-of-focus lights); JPEG with a time taken, or PNG. */
export async function demoImage(k: number, j: number, takenAt: Date): Promise<Buffer> {
  const [top, bottom, light] = PALETTES[(k + j) % PALETTES.length]!;
  const width = 960;
  const height = 640;
  const random = prng(k * 1_000 + j);
  const circles = Array.from({ length: 14 }, () => {
    const r = 12 + random() * 60;
    return `<circle cx="${(random() * width).toFixed(0)}" cy="${(random() * height * 0.7).toFixed(0)}" r="${r.toFixed(0)}" fill="${light}" opacity="${(0.12 + random() * 0.35).toFixed(2)}"/>`;
  }).join('');
  const horizon = height * (0.62 + random() * 0.15);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${top}"/><stop offset="1" stop-color="${bottom}"/></linearGradient></defs>
    <rect width="${width}" height="${height}" fill="url(#sky)"/>${circles}
    <path d="M0 ${horizon.toFixed(0)} Q ${width * 0.3} ${(horizon - 60).toFixed(0)} ${width * 0.55} ${horizon.toFixed(0)} T ${width} ${(horizon - 20).toFixed(0)} V ${height} H 0 Z" fill="#10131a" opacity="0.85"/>
  </svg>`;
  const image = sharp(Buffer.from(svg));
  if (j % 2 === 1) return image.png({ compressionLevel: 9 }).toBuffer();
  const exifTime = takenAt.toISOString().slice(0, 19).replace(/-/g, ':').replace('T', ' ');
  return image
    .jpeg({ quality: 82 })
    .withExif({ IFD0: { Make: 'EPU seed' }, IFD2: { DateTimeOriginal: exifTime } })
    .toBuffer();
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32): the same flags give the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// ---------------------------------------------------------------- the command

/** `epu seed`: see SEED_USAGE and the README. Flags and environment are checked before anything is written. */
export async function runSeed(config: Config, args: string[]): Promise<void> {
  const options = parseSeedArgs(args, config.appEnv, config.operatorPasswords.seed);
  const report = createReporter('seed');
  const platform = await createPlatform(config, 'cli', createRootLogger({ ...config, logLevel: 'warn' }, 'cli'));
  try {
    await ensureSchemaCurrent({ connectionString: platform.databaseUrl, embedded: !config.databaseUrl, logger: platform.logger });
    if (config.appEnv === 'production') report.step('APP_ENV is production and --force was given: seeding anyway');
    await seed(platform, createServices(platform), options, report);
  } finally {
    await platform.close();
  }
}

async function seed(platform: Platform, services: Services, options: SeedOptions, report: Reporter): Promise<void> {
  const users = await seedUsers(platform, services, options, report);
  const existingEvents = await countSeedEvents(platform);
  const toCreate = Math.max(0, options.events - existingEvents);
  if (existingEvents)
    report.step(
      `${existingEvents} demo event(s) already there; ${toCreate ? `adding ${toCreate} to reach --events ${options.events}` : `nothing to add for --events ${options.events}`}`,
      { existing: existingEvents },
    );

  const now = new Date();
  const created: { event: EventRow; k: number; attendees: Viewer[] }[] = [];
  let bookings = 0;
  let fullEvents = 0;
  for (let i = 0; i < toCreate; i++) {
    const k = existingEvents + i + 1;
    const owner = users[(k - 1) % Math.min(OWNERS, users.length)]!;
    const { template, input } = eventInput(k, now);
    const event = await services.events.create(owner, input);
    // Everyone but the owner, starting at a different person for each event; private events
    // are invisible to anyone not invited (there are no invitations yet), so only public and unlisted ones get bookings.
    const others = users.filter((user) => user.id !== owner.id);
    const rotated = others.map((_, index) => others[(index + k) % others.length]!);
    const wanted =
      event.visibility === 'private' ? 0 : Math.min(rotated.length, Math.ceil((event.capacity ?? rotated.length) * template.demand));
    const attendees: Viewer[] = [];
    let full = false;
    let turnedAway = 0;
    for (const user of rotated.slice(0, wanted)) {
      try {
        const { created: isNew } = await services.bookings.book(event.id, signedInBooker(user));
        if (isNew) bookings++;
        attendees.push(user);
      } catch (error) {
        // The bookings service keeps to the capacity: the rest of the queue is turned away.
        if (error instanceof AppError && error.code === 'event_full') {
          full = true;
          turnedAway = wanted - attendees.length;
          break;
        }
        throw error;
      }
    }
    if (full) fullEvents++;
    created.push({ event, k, attendees });
    report.step(`event ${i + 1}/${toCreate}: ${event.title}`, {
      id: event.id,
      visibility: event.visibility,
      capacity: event.capacity,
      booked: attendees.length,
      ...(full ? { full: true, turnedAway } : {}),
    });
  }

  const photos = await seedPhotos(services, created.slice(0, EVENTS_WITH_PHOTOS), users, options.photos, report);
  if (photos.uploaded) {
    report.step(
      `${photos.uploaded} photo(s) stored and queued for thumbnails; they show in galleries once a worker has processed them (npm start runs one, or epu worker); without a worker they stay "processing"`,
    );
  }
  const createdUsers = users.filter((user) => user.created).length;
  const added = createdUsers + created.length + photos.uploaded > 0;
  if (added)
    report.step(
      'admin stats count the demo data at the next stats.aggregate (every 5 minutes in the worker, or now: epu jobs run stats.aggregate)',
    );
  report.result(added ? 'demo data seeded' : 'demo data already there; nothing added', {
    users: users.length,
    usersCreated: createdUsers,
    events: existingEvents + created.length,
    eventsCreated: created.length,
    bookings,
    fullEvents,
    photos: photos.uploaded,
    ...(photos.skipped ? { photosSkipped: photos.skipped } : {}),
    login: seedEmail(1),
  });
}

type SeedUser = PublicUser & { created: boolean };

/** demo-1 … demo-N: existing ones are left as they are (password included); missing ones sign up through the accounts service. */
async function seedUsers(platform: Platform, services: Services, options: SeedOptions, report: Reporter): Promise<SeedUser[]> {
  const repo = createAccountsRepository(platform.db);
  const users: (SeedUser | undefined)[] = new Array(options.users);
  const missing: number[] = [];
  for (let n = 1; n <= options.users; n++) {
    const existing = await repo.findByEmail(seedEmail(n));
    if (existing) users[n - 1] = { id: existing.id, email: existing.email, name: existing.name, role: existing.role, created: false };
    else missing.push(n);
  }
  const already = options.users - missing.length;
  if (already) report.step(`${already} demo user(s) already there; they keep their password`, { existing: already });

  let password = options.password.value;
  if (missing.length) {
    if (options.password.source === 'generate') {
      password = crypto.randomBytes(15).toString('base64url');
      // Shown once, here, on stdout; never logged or stored (only its argon2 hash is).
      report.step(`demo password for the ${missing.length} user(s) made now (generated, shown only this once): ${password}`);
    } else {
      report.step(
        `demo password: from ${options.password.source === 'env' ? 'EPU_SEED_PASSWORD' : `--password-file ${options.password.file}`}`,
      );
    }
  }
  // Hashing (argon2id) is the slow part: a few at a time, with progress.
  let done = 0;
  const next = [...missing];
  const signUp = async () => {
    for (let n = next.shift(); n !== undefined; n = next.shift()) {
      const signedIn = await services.accounts.signup({ email: seedEmail(n), name: seedName(n), password: password! });
      // Signup starts a session; nobody holds its cookie.
      await services.accounts.logout(signedIn.sessionId);
      users[n - 1] = { ...signedIn.user, created: true };
      done++;
      if (done % 10 === 0 || done === missing.length)
        report.step(`users: ${done}/${missing.length} created`, { created: done, of: missing.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, missing.length) }, signUp));
  report.step(`users ready: ${seedEmail(1)}${options.users > 1 ? ` … ${seedEmail(options.users)}` : ''}`, {
    users: options.users,
    created: missing.length,
  });
  return users as SeedUser[];
}

async function countSeedEvents(platform: Platform): Promise<number> {
  const row = await platform.db
    .selectFrom('events')
    .innerJoin('users', 'users.id', 'events.owner_id')
    .where('users.email', 'like', `%@${SEED_EMAIL_DOMAIN}`)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** `perEvent` photos on each given event, uploaded by the owner and its attendees through the same checks and path as the upload endpoint. */
async function seedPhotos(
  services: Services,
  events: { event: EventRow; k: number; attendees: Viewer[] }[],
  users: SeedUser[],
  perEvent: number,
  report: Reporter,
): Promise<{ uploaded: number; skipped: number }> {
  let uploaded = 0;
  let skipped = 0;
  const total = events.length * perEvent;
  for (const { event, k, attendees } of events) {
    const owner = users.find((user) => user.id === event.owner_id)!;
    for (let j = 0; j < perEvent; j++) {
      const uploader = j === 0 || attendees.length === 0 ? owner : attendees[(j - 1) % attendees.length]!;
      // As the upload route: the photos.uploads flag can switch uploads off.
      if (!(await services.flags.isEnabled(FLAGS.photosUploads, uploader.id))) {
        skipped++;
        continue;
      }
      const bytes = await demoImage(k, j, new Date(event.starts_at.getTime() + j * 600_000));
      const target = await services.photos.authorizeUpload(event.id, uploader);
      const stored = await services.photos.storeUpload(target, uploader, { stream: Readable.from([bytes]) });
      const photo = await stored.commit();
      uploaded++;
      report.step(`photos: ${uploaded + skipped}/${total}`, {
        eventId: event.id,
        photoId: photo.id,
        bytes: photo.bytes,
        contentType: photo.contentType,
      });
    }
  }
  if (skipped) report.step(`${skipped} photo(s) skipped: the photos.uploads flag is off (epu flags set photos.uploads --enabled true)`);
  return { uploaded, skipped };
}
