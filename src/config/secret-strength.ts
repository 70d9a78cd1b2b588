// How strong a SECRET_KEY is, by its look: the configuration refuses weak keys in
// staging and production, and `epu readiness` reports them.

/**
 * Signs of a key typed or copied by a person rather than drawn from a random
 * source. Words of five letters or more: a random base64 key of 64 characters
 * holds one of them about once in a million keys (a four-letter word, once in
 * 15,000; the test suite's and docker-compose's keys say "secret" anyway).
 */
const PLACEHOLDER_WORDS = /change|secret|example|password|default|local/i;

/** Roughly the bits of a key: its length times the spread of its characters (Shannon). */
export function estimatedBits(key: string): number {
  const counts = new Map<string, number>();
  for (const character of key) counts.set(character, (counts.get(character) ?? 0) + 1);
  let perCharacter = 0;
  for (const count of counts.values()) {
    const p = count / key.length;
    perCharacter -= p * Math.log2(p);
  }
  return perCharacter * key.length;
}

/** Six characters in a row such as "abcdef" or "012345": typed, not random (about 1 in 20,000 random hex keys of 64 characters has one). */
function hasAscendingRun(key: string, length = 6): boolean {
  let run = 1;
  for (let i = 1; i < key.length; i++) {
    run = key.charCodeAt(i) === key.charCodeAt(i - 1) + 1 ? run + 1 : 1;
    if (run >= length) return true;
  }
  return false;
}

/** Why a key is weak, or null. 80 bits: 16 random bytes as hex estimate 90 or more (the estimate undercounts short keys). */
export function keyWeakness(key: string): string | null {
  const word = key.match(PLACEHOLDER_WORDS);
  if (word) return `contains "${word[0]}", as placeholders and example keys do`;
  if (hasAscendingRun(key)) return 'contains a run such as "abcdef" or "012345", as typed keys do';
  const bits = estimatedBits(key);
  if (bits < 80) return `about ${Math.round(bits)} bits of randomness, fewer than 80`;
  return null;
}
