// The dev loop's wait for a stopped process's group (scripts/dev/process-group.ts): real processes, Linux's /proc.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groupAlive, waitForGroupToEnd } from '../scripts/dev/process-group.js';
import { eventually } from './support/app.js';

describe('a process group', () => {
  it('is alive while a child outlives its leader, and the wait ends once that child has', async () => {
    // The leader exits at once; the child it leaves runs on, like tsx's esbuild service after its node process.
    const leader = spawn('sh', ['-c', 'sleep 30 & echo $!; exit 0'], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(leader.stdout, 'data')) as [Buffer];
    await once(leader, 'exit');
    expect(groupAlive(leader.pid!)).toBe(true);
    process.kill(Number(line.toString().trim()), 'SIGTERM');
    await waitForGroupToEnd(leader.pid!, 10_000);
    expect(groupAlive(leader.pid!)).toBe(false);
  });

  it('kills what still runs once the budget is spent', async () => {
    const leader = spawn('sh', ['-c', 'sleep 30 & exit 0'], { detached: true, stdio: 'ignore' });
    await once(leader, 'exit');
    await waitForGroupToEnd(leader.pid!, 200);
    await eventually(async () => (groupAlive(leader.pid!) ? undefined : true), 10_000, 'the group killed');
  });

  it('counts a zombie as ended, though a signal still reaches it until it is reaped', async () => {
    // `setsid sleep 0` leads a session and group of its own and exits at once; its parent is
    // `sleep 30`, which never reaps it, so it stays a zombie as an orphan may under a lazy init.
    const parent = spawn('sh', ['-c', 'setsid sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(parent.stdout, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      await eventually(
        async () => (fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z ') ? true : undefined),
        10_000,
        'the zombie',
      );
      expect(() => process.kill(-zombie, 0)).not.toThrow();
      expect(groupAlive(zombie)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
