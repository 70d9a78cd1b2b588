// The processes the dev loop starts each lead a process group of their own, so
// that a signal and a wait reach everything under them: a tsx process's esbuild
// service, a web primary's workers, tsc's native compiler.
import fs from 'node:fs';

/**
 * Whether any process of the group `pgid` is still running. A zombie does not
 * count: it has ended and only waits to be reaped, which an orphan's new parent
 * (a container's init, for one) may take seconds to do. Where there is no /proc,
 * any member counts.
 */
export function groupAlive(pgid: number): boolean {
  if (!fs.existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(group) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/**
 * Waits until the group `pgid` has no running process: what is left of a
 * stopped process (a child that exits once its parent's pipe closes) goes in a
 * moment. Whatever still runs after `budgetMs` is killed, so that a stuck one
 * can neither hold a shutdown nor outlive it.
 */
export async function waitForGroupToEnd(pgid: number, budgetMs = 5_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // ended meanwhile
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
