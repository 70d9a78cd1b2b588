import crypto from 'node:crypto';

/** What the rollout needs of a flag. */
export interface FlagRule {
  name: string;
  enabled: boolean;
  rolloutPercentage: number;
}

export type FlagState = 'on' | 'off' | 'partial';

/**
 * A user's bucket for a flag, 0 to 99: the first 4 bytes of
 * sha256("<flag>:<user id>") as an unsigned integer, modulo 100. Stable across
 * processes, restarts and releases, so raising a rollout from 10 % to 20 %
 * keeps the first 10 % in; the flag name in the hash gives each flag its own
 * slice of users.
 */
export function rolloutBucket(flagName: string, userId: string): number {
  return crypto.createHash('sha256').update(`${flagName}:${userId}`).digest().readUInt32BE(0) % 100;
}

/**
 * Whether a flag is on for a user. A missing or disabled flag is off; at 100 %
 * it is on for everyone, anonymous visitors included; below 100 % it is on for
 * the signed-in users whose bucket falls under the percentage, and never for
 * anonymous visitors (they have no stable id to hash).
 */
export function evaluateFlag(flag: FlagRule | undefined, userId: string | null): boolean {
  if (!flag || !flag.enabled) return false;
  if (flag.rolloutPercentage >= 100) return true;
  if (flag.rolloutPercentage <= 0 || userId === null) return false;
  return rolloutBucket(flag.name, userId) < flag.rolloutPercentage;
}

/** The effective state: the stale report looks for flags fully on or fully off for a long time. */
export function flagState(flag: Pick<FlagRule, 'enabled' | 'rolloutPercentage'>): FlagState {
  if (!flag.enabled || flag.rolloutPercentage <= 0) return 'off';
  return flag.rolloutPercentage >= 100 ? 'on' : 'partial';
}
