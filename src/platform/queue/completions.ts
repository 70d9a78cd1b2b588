/** A finished run of a job: its id and which attempt it was. */
export interface FinishedRun {
  id: string;
  attempt: number;
}

/**
 * Records completions in batches, as a database group-commits: the first
 * completion goes out at once, and every one that arrives while a statement is
 * in flight waits for the next, which takes them all. A quiet queue pays no
 * delay; a burst of short jobs (each booking's audit delivery) pays one
 * statement per batch instead of one per job.
 * `record` answers the `id:attempt` of the runs it marked completed.
 */
export function batchedCompletions(record: (runs: FinishedRun[]) => Promise<Set<string>>) {
  let waiting: { run: FinishedRun; resolve: (completed: boolean) => void; reject: (error: unknown) => void }[] = [];
  let inFlight = false;

  async function drain(): Promise<void> {
    inFlight = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        const completed = await record(batch.map((entry) => entry.run));
        for (const { run, resolve } of batch) resolve(completed.has(`${run.id}:${run.attempt}`));
      } catch (error) {
        for (const { reject } of batch) reject(error);
      }
    }
    inFlight = false;
  }

  return {
    /** Resolves true once the run is recorded completed, false when its lease was lost meanwhile. */
    complete(run: FinishedRun): Promise<boolean> {
      return new Promise((resolve, reject) => {
        waiting.push({ run, resolve, reject });
        if (!inFlight) void drain();
      });
    },
  };
}
