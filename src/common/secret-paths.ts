/**
 * Paths that carry a bearer secret in the URL itself: a share link's token (`/v1/shared/{token}`). Anyone holding
 * the token reads the conversation, so it must not reach logs or traces; the database keeps only its SHA-256.
 * Case-insensitive, as Express routes are.
 */
const SECRET_PATH = /^(\/v1\/shared\/)[^/?#]+/i;

/**
 * A request URL or path as it may be written to logs and traces: a secret path segment replaced by `[token]`,
 * everything else (the query included) as it was.
 * @param url a request target such as `/v1/shared/q0x…?a=1`
 * @returns e.g. `/v1/shared/[token]?a=1`
 */
export function redactedPath(url: string): string {
  return url.replace(SECRET_PATH, '$1[token]');
}
