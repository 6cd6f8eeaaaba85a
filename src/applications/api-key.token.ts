import { createHash, randomBytes } from 'node:crypto';

/** Every API key starts with this, so it is recognisable (secret scanners, logs) and told apart from a JWT. */
export const API_KEY_PREFIX = 'ak_';
/** `ak_` + 43 base64url characters (32 random bytes). */
export const API_KEY_PATTERN = /^ak_[A-Za-z0-9_-]{43}$/;
/** How much of the key is kept in clear, to tell keys apart in listings. */
const VISIBLE_LENGTH = 11;

/** A new API key: the key itself (shown once), its visible prefix and the SHA-256 hex stored in its place. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, VISIBLE_LENGTH), hash: hashApiKey(key) };
}

/** SHA-256 hex of a key: 256 bits of entropy need no slow hash, and a lookup by hash stays one index read. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
