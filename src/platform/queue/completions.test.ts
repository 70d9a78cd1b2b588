import { describe, expect, it } from 'vitest';
import { batchedCompletions, type FinishedRun } from './completions.js';

/** A record function whose statements finish when the test says, remembering each batch. */
function controlledRecord(lost: Set<string> = new Set()) {
  const batches: FinishedRun[][] = [];
  const finishers: ((error?: Error) => void)[] = [];
  const record = (runs: FinishedRun[]) => {
    batches.push(runs);
    return new Promise<Set<string>>((resolve, reject) => {
      finishers.push((error) =>
        error ? reject(error) : resolve(new Set(runs.map((r) => `${r.id}:${r.attempt}`).filter((k) => !lost.has(k)))),
      );
    });
  };
  return { record, batches, finish: (error?: Error) => finishers.shift()!(error) };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('batched job completions', () => {
  it('records a lone completion at once, and those arriving meanwhile together in the next statement', async () => {
    const db = controlledRecord();
    const completions = batchedCompletions(db.record);
    const first = completions.complete({ id: 'a', attempt: 1 });
    await flush();
    expect(db.batches).toEqual([[{ id: 'a', attempt: 1 }]]);
    const later = [completions.complete({ id: 'b', attempt: 1 }), completions.complete({ id: 'c', attempt: 2 })];
    await flush();
    expect(db.batches).toHaveLength(1); // they wait for the statement in flight
    db.finish();
    expect(await first).toBe(true);
    await flush();
    expect(db.batches[1]).toEqual([
      { id: 'b', attempt: 1 },
      { id: 'c', attempt: 2 },
    ]);
    db.finish();
    expect(await Promise.all(later)).toEqual([true, true]);
  });

  it('answers false for a run whose lease was lost, and true for the rest of its batch', async () => {
    const db = controlledRecord(new Set(['b:1']));
    const completions = batchedCompletions(db.record);
    const results = [completions.complete({ id: 'a', attempt: 1 }), completions.complete({ id: 'b', attempt: 1 })];
    await flush();
    db.finish();
    await flush();
    db.finish();
    expect(await Promise.all(results)).toEqual([true, false]);
  });

  it('rejects every run of a batch whose statement failed, and goes on with the next batch', async () => {
    const db = controlledRecord();
    const completions = batchedCompletions(db.record);
    const failed = completions.complete({ id: 'a', attempt: 1 });
    await flush();
    const next = completions.complete({ id: 'b', attempt: 1 });
    db.finish(new Error('connection lost'));
    await expect(failed).rejects.toThrow('connection lost');
    await flush();
    db.finish();
    expect(await next).toBe(true);
  });
});
