// Whole responses for anonymous viewers of public content, kept in this process
// for a few seconds: the embedded stand-in for the CDN that PUBLIC_SHORT
// (cache-control.ts) already invites to keep them for 30 s. A hit costs no
// query and no rendering; under the load profile these reads are most of the
// traffic (docs/decisions/0016-public-page-cache.md).
//
// Correctness does not rest on the TTL: every write that changes what such a
// page shows announces it (`announce`), which drops the copies in this process
// at once and in every other process (web replicas, the worker's writes) over
// the change bus. A response rendered while an announcement of one of its tags
// arrived is not stored, so a copy can never predate a change it missed. One
// render per URL at a time: requests that miss while it runs wait for it.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../observability/logger.js';
import type { ChangeBus } from '../pubsub/change-bus.js';
import { negotiate } from './compression.js';
import type { App } from './server.js';

export const PUBLIC_PAGES_CHANNEL = 'epu_public_pages';

/**
 * Tags name what a cached response shows; a change announces the tags it affects.
 * Features name their own pages' tags (events: EVENT_PAGES); this one means every page.
 */
export const PAGE_TAGS = {
  /** Everything (say, a deleted account's events and photos, or a flag change). */
  all: '*',
} as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Opts a GET route into the cache: the tags of the response for this request. */
    publicPage?: (request: FastifyRequest) => string[];
  }
}

/**
 * Announces changes to what anonymous pages show: this process's copies are
 * dropped before it returns, other processes' once the change bus delivers
 * (one message at a time, within the PostgreSQL bus's window: platform.ts).
 * Never throws: a lost announcement is bounded by the TTL.
 */
export interface ContentChanges {
  announce(...tags: string[]): void;
}

export interface PublicPageCache extends ContentChanges {
  /** Serves and stores opted-in routes' responses; `isAnonymous` must be true only for requests without any session. */
  register(app: App, isAnonymous: (request: FastifyRequest) => boolean): void;
  /** Drops this process's copies for the tags, without telling anyone (for changes every process learns of by itself, such as flags). */
  drop(...tags: string[]): void;
  /** Listens for other processes' announcements. */
  start(): Promise<void>;
  /** Stops listening, and resolves once what was announced here has gone to the bus. */
  stop(): Promise<void>;
}

interface StoredPage {
  body: string | Buffer;
  headers: Record<string, string>;
  tags: string[];
}

const KEPT_HEADERS = ['content-type', 'cache-control', 'vary', 'content-encoding'] as const;

/** One copy per URL and encoding: a body is stored as it was sent, compressed for clients that take it (compression.ts). */
const keyOf = (request: FastifyRequest) => `${negotiate(request.headers['accept-encoding']) ?? 'identity'} ${request.url}`;
/** Tags one announcement message carries at most (an event's tag is 42 bytes; NOTIFY takes 8,000). */
const MAX_TAGS_PER_MESSAGE = 64;
/** How long a miss waits for another request's render of the same URL before rendering itself. */
const WAIT_FOR_RENDER_MS = 2_000;
const renderState = Symbol('publicPageRender');
interface RenderState {
  /** The cache key (URL and encoding) the render is for. */
  key: string;
  tags: string[];
  /** The generation of each tag (and of PAGE_TAGS.all) when the render began. */
  generations: number[];
  done: () => void;
}
type Marked = FastifyRequest & { [renderState]?: RenderState };

export function createPublicPageCache(deps: {
  bus: ChangeBus;
  logger: Logger;
  /** 0 turns the cache off (announcements still travel, for other processes). */
  ttlSeconds: number;
  maxBytes?: number;
  onLookup?: (hit: boolean) => void;
}): PublicPageCache {
  const { bus, logger, ttlSeconds } = deps;
  const byTag = new Map<string, Set<string>>();
  const pages = new LRUCache<string, StoredPage>({
    max: 5_000,
    maxSize: deps.maxBytes ?? 32 * 1024 * 1024,
    sizeCalculation: (page, key) => Math.max(1, (typeof page.body === 'string' ? page.body.length * 2 : page.body.length) + key.length),
    ttl: Math.max(1, ttlSeconds) * 1000,
    dispose: (page, key) => {
      for (const tag of page.tags) {
        const keys = byTag.get(tag);
        keys?.delete(key);
        if (keys?.size === 0) byTag.delete(tag);
      }
    },
  });
  // Bumped by every drop of a tag: a response rendered across a drop of one of
  // its tags may show what the drop was about. Bounded; a forgotten tag reads
  // as 0, which at worst skips storing one response.
  const generations = new LRUCache<string, number>({ max: 100_000 });
  const generationOf = (tag: string) => generations.get(tag) ?? 0;
  // The renders under way, by key, for requests that miss meanwhile to wait on.
  const rendering = new Map<string, Promise<void>>();
  const unsubscribes: (() => void)[] = [];
  // Announcements carry their sender: this process dropped its copies when it
  // announced, and the bus's echo arriving later would drop what was stored since.
  const origin = randomUUID();

  // Tags announced here and not yet on the bus. One publish is out at a time; what is announced meanwhile leaves
  // with the next, as one message, so that a stream of writes cannot pile up publishes (a slow or unreachable Redis).
  let unannounced = new Set<string>();
  let publishing: Promise<void> | null = null;
  function publishUnannounced(): void {
    if (publishing || unannounced.size === 0) return;
    // A NOTIFY payload holds at most 8,000 bytes: past a few dozen tags, one that drops every page says as much.
    const tags = unannounced.size > MAX_TAGS_PER_MESSAGE ? [PAGE_TAGS.all] : [...unannounced];
    unannounced = new Set();
    publishing = bus
      .publish(PUBLIC_PAGES_CHANNEL, JSON.stringify({ from: origin, tags }))
      .catch((error: unknown) =>
        logger.warn(
          { err: error, tags },
          `could not announce a change to public pages; other processes may show the old copy for up to ${ttlSeconds} s`,
        ),
      )
      .finally(() => {
        publishing = null;
        publishUnannounced();
      });
  }

  function drop(tags: string[]): void {
    for (const tag of tags) generations.set(tag, generationOf(tag) + 1);
    if (tags.includes(PAGE_TAGS.all)) return pages.clear();
    for (const tag of tags) for (const key of [...(byTag.get(tag) ?? [])]) pages.delete(key);
  }

  /** Marks the start of a render: its tags' generations, and a promise for others who miss the same URL. */
  function beginRender(request: Marked, key: string, tags: string[]): void {
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    rendering.set(key, finished);
    const watched = [...tags, PAGE_TAGS.all];
    request[renderState] = {
      key,
      tags,
      generations: watched.map(generationOf),
      done: () => {
        if (rendering.get(key) === finished) rendering.delete(key);
        done();
      },
    };
  }

  const unchangedSince = (state: RenderState) =>
    [...state.tags, PAGE_TAGS.all].every((tag, i) => generationOf(tag) === state.generations[i]);

  function dropFromMessage(message: string): void {
    let announcement: { from?: unknown; tags?: unknown };
    try {
      announcement = JSON.parse(message) as { from?: unknown; tags?: unknown };
    } catch {
      return drop([PAGE_TAGS.all]);
    }
    if (announcement?.from === origin) return;
    // A bare list is what processes of the previous release send, during a rolling deploy.
    const tags = Array.isArray(announcement) ? announcement : announcement?.tags;
    drop(Array.isArray(tags) ? tags.map(String) : [PAGE_TAGS.all]);
  }

  function store(key: string, reply: FastifyReply, body: string | Buffer, tags: string[]): void {
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = reply.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    pages.set(key, { body, headers, tags });
    for (const tag of tags) {
      let keys = byTag.get(tag);
      if (!keys) byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  return {
    announce(...tags) {
      drop(tags);
      // The caller goes on at once: this process's copies are gone, and the others' follow when the bus delivers,
      // which waiting here would not hasten (it only held every booking's response for the bus's window).
      for (const tag of tags) unannounced.add(tag);
      publishUnannounced();
    },

    register(app, isAnonymous) {
      if (ttlSeconds === 0) return;
      const eligible = (request: FastifyRequest) => request.method === 'GET' && isAnonymous(request);

      const lookup = async (request: Marked, reply: FastifyReply) => {
        if (!eligible(request)) return;
        const key = keyOf(request);
        let page = pages.get(key);
        const underway = page ? undefined : rendering.get(key);
        if (underway) {
          await Promise.race([underway, new Promise((resolve) => setTimeout(resolve, WAIT_FOR_RENDER_MS).unref())]);
          page = pages.get(key);
        }
        deps.onLookup?.(page !== undefined);
        if (page) return reply.headers(page.headers).send(page.body);
        beginRender(request, key, request.routeOptions.config.publicPage!(request));
      };

      const keep = async (request: Marked, reply: FastifyReply, payload: unknown) => {
        const state = request[renderState];
        if (!state) return payload;
        request[renderState] = undefined;
        // Only what the route itself marked public, for nobody in particular, whole, and not overtaken by a change.
        const cacheControl = reply.getHeader('cache-control');
        const publicCopy = typeof cacheControl === 'string' && cacheControl.startsWith('public');
        const whole = typeof payload === 'string' || Buffer.isBuffer(payload);
        if (reply.statusCode === 200 && publicCopy && !reply.hasHeader('set-cookie') && whole && unchangedSince(state)) {
          store(state.key, reply, payload, state.tags);
        }
        state.done();
        return payload;
      };

      // A render that ends without a response (the client went away) must not keep others waiting.
      const release = async (request: Marked) => {
        request[renderState]?.done();
        request[renderState] = undefined;
      };

      // Only on the routes marked publicPage: every other request skips these hooks entirely.
      app.addHook('onRoute', (route) => {
        if (!route.config?.publicPage) return;
        route.preHandler = [...toArray(route.preHandler), lookup];
        route.onSend = [...toArray(route.onSend), keep];
        route.onRequestAbort = [...toArray(route.onRequestAbort), release];
      });
    },

    drop(...tags) {
      drop(tags);
    },

    async start() {
      if (ttlSeconds === 0) return;
      unsubscribes.push(await bus.subscribe(PUBLIC_PAGES_CHANNEL, dropFromMessage, { onResync: () => drop([PAGE_TAGS.all]) }));
    },

    async stop() {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
      pages.clear();
      // What is still to be announced goes out before the bus closes (platform.close stops this first).
      while (publishing) await publishing;
    },
  };
}

/** A route option's hooks (none, one, or a list) as a list. */
function toArray<T>(hooks: T | T[] | undefined): T[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}
