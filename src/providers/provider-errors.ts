import { ModelProviderError } from './model-provider';

/** Longest provider error text passed on in a `bad_request` message, in characters. */
const MAX_PROVIDER_MESSAGE = 300;

/**
 * Maps an HTTP error status of any provider to a {@link ModelProviderError} whose message is safe to show a
 * client: 401/403 → `auth` (never the key or the upstream text), 429 → `rate_limited`, 408 → `timeout`, other
 * 4xx → `bad_request` quoting the provider's own message (key masked, shortened), 5xx and Anthropic's 529
 * "overloaded" → `unavailable`.
 * @param providerMessage the provider's error text, if any
 * @param retryAfterSeconds from the `retry-after` header (or the provider's equivalent), in seconds
 * @param apiKey masked should the provider echo it
 */
export function errorForStatus(
  status: number,
  providerMessage: string | undefined,
  retryAfterSeconds: number | undefined,
  apiKey: string | undefined,
): ModelProviderError {
  if (status === 401 || status === 403) return credentialsRejected(status);
  if (status === 429) {
    const message = 'The model provider is rate limiting this server.';
    return new ModelProviderError('rate_limited', message, status, retryAfterSeconds);
  }
  if (status === 408) return new ModelProviderError('timeout', 'The model provider timed out.', status);
  if (status >= 400 && status < 500) {
    return new ModelProviderError(
      'bad_request',
      `The model provider refused the request: ${clientSafe(providerMessage, status, apiKey)}`,
      status,
    );
  }
  return new ModelProviderError('unavailable', `The model provider failed (HTTP ${status}).`, status);
}

/** The error for credentials the provider refused; never says more, so the key can't leak through it. */
export function credentialsRejected(upstreamStatus: number): ModelProviderError {
  return new ModelProviderError('auth', "The model provider rejected this server's credentials.", upstreamStatus);
}

/** The provider's error text, shortened, with the API key masked should it echo it; `HTTP <status>` when empty. */
function clientSafe(raw: string | undefined, status: number, apiKey: string | undefined): string {
  let message = raw?.trim() ? raw.trim() : `HTTP ${status}`;
  if (apiKey) message = message.replaceAll(apiKey, '[redacted]');
  return message.length > MAX_PROVIDER_MESSAGE ? `${message.slice(0, MAX_PROVIDER_MESSAGE)}…` : message;
}

/** Reads `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) as whole seconds; undefined when absent. */
export function retryAfterSeconds(value: string | null | undefined): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : (Date.parse(trimmed) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}

/** The error for a call that passed its whole-call deadline. */
export function deadlineError(timeoutMs: number): ModelProviderError {
  return new ModelProviderError('timeout', `The model provider did not answer within ${timeoutMs} ms.`);
}

/** The error for a streamed call whose response headers did not arrive in time. */
export function connectTimeoutError(connectTimeoutMs: number): ModelProviderError {
  return new ModelProviderError('timeout', `The model provider did not start answering within ${connectTimeoutMs} ms.`);
}

/** The error for a refused or dropped connection before any answer. */
export function unreachableError(): ModelProviderError {
  return new ModelProviderError('unavailable', 'The model provider could not be reached.');
}

/** The error for a stream that failed or ended before its finish event. */
export function brokenStreamError(): ModelProviderError {
  return new ModelProviderError('unavailable', 'The model provider failed while answering.');
}

/** The error for a stream that ended cleanly but without saying why it finished. */
export function truncatedStreamError(): ModelProviderError {
  return new ModelProviderError('unavailable', 'The model provider ended the answer before it was complete.');
}
