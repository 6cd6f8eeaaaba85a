/** Fewest distinct characters a production `JWT_SECRET` may have. */
export const MIN_SECRET_DISTINCT_CHARS = 8;
/**
 * Least estimated entropy, in bits, a production `JWT_SECRET` may have. Below the 112 bits NIST SP 800-107 asks of
 * an HMAC key because the estimate undercounts random hex (a 128-bit random hex secret scores 110–120).
 */
export const MIN_SECRET_ENTROPY_BITS = 96;

/**
 * Estimates how guessable a secret is from its own characters: the number of distinct characters, and its length
 * times the Shannon entropy of its character frequencies (bits). A random 32-character base64 or hex string scores
 * about 145 or 115 bits; `aaaa…` scores 0 and `abab…` one bit per character. It cannot see that a sentence or a
 * reused password is guessable, only that a string is repetitive.
 */
export function secretStrength(secret: string): { distinct: number; bits: number } {
  const chars = [...secret];
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return { distinct: counts.size, bits: Math.round(perChar * chars.length) };
}

/** @returns why `secret` is too weak to sign production tokens, or null when it passes both thresholds */
export function weakSecretReason(secret: string): string | null {
  const { distinct, bits } = secretStrength(secret);
  if (distinct < MIN_SECRET_DISTINCT_CHARS) {
    return `has only ${distinct} distinct characters (at least ${MIN_SECRET_DISTINCT_CHARS} needed)`;
  }
  if (bits < MIN_SECRET_ENTROPY_BITS) return `has about ${bits} bits of entropy (at least ${MIN_SECRET_ENTROPY_BITS} needed)`;
  return null;
}
