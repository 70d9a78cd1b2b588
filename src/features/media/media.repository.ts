import { sql } from 'kysely';
import type { Db } from '../../platform/db/pool.js';

/** What an object is to EPU, which decides how it is stored (its Cache-Control). */
export type MediaKind = 'original' | 'derived' | 'export';

/** One object the database points to, with what the database knows of its bytes. */
export interface ReferencedObject {
  key: string;
  kind: MediaKind;
  /** Recorded at upload for originals (and scrubbed placeholders), null otherwise. */
  bytes: number | null;
  sha256: string | null;
}

const PAGE = 1_000;

export function createMediaRepository(db: Db) {
  /** Rows of `table` in id order, a page at a time (ids are random: a row added meanwhile may fall behind the cursor). */
  async function* pages<T extends { id: string }>(page: (afterId: string | null) => Promise<T[]>): AsyncGenerator<T> {
    let afterId: string | null = null;
    for (;;) {
      const rows = await page(afterId);
      yield* rows;
      if (rows.length < PAGE) return;
      afterId = rows.at(-1)!.id;
    }
  }

  return {
    /** How many objects `referencedObjects` yields, for progress. */
    async countReferenced(options: { exports: boolean }): Promise<number> {
      const { rows } = await sql<{ n: number }>`
        SELECT (SELECT count(*) + count(thumbnail_key) + count(display_key) FROM photos)::int
          + CASE WHEN ${options.exports} THEN (SELECT count(object_key) FROM exports)::int ELSE 0 END AS n`.execute(db);
      return rows[0]!.n;
    },

    /**
     * Every object a photo points to (its original and derived images), then, if
     * asked, every export archive still held. Failed photos count: their keys are
     * still referenced, and a missing original is reported as missing.
     */
    async *referencedObjects(options: { exports: boolean }): AsyncGenerator<ReferencedObject> {
      const photos = pages((afterId) => {
        let query = db.selectFrom('photos').select(['id', 'original_key', 'thumbnail_key', 'display_key', 'bytes', 'sha256']);
        if (afterId) query = query.where('id', '>', afterId);
        return query.orderBy('id').limit(PAGE).execute();
      });
      for await (const photo of photos) {
        yield { key: photo.original_key, kind: 'original', bytes: Number(photo.bytes), sha256: photo.sha256 };
        for (const key of [photo.thumbnail_key, photo.display_key]) if (key) yield { key, kind: 'derived', bytes: null, sha256: null };
      }
      if (!options.exports) return;
      const archives = pages((afterId) => {
        let query = db.selectFrom('exports').select(['id', 'object_key', 'bytes']).where('object_key', 'is not', null);
        if (afterId) query = query.where('id', '>', afterId);
        return query.orderBy('id').limit(PAGE).execute();
      });
      for await (const archive of archives) {
        yield { key: archive.object_key!, kind: 'export', bytes: archive.bytes === null ? null : Number(archive.bytes), sha256: null };
      }
    },
  };
}

export type MediaRepository = ReturnType<typeof createMediaRepository>;
