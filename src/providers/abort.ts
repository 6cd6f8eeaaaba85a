/**
 * True when `err` says "the caller aborted" rather than "the operation failed": a DOM `AbortError` (what
 * `AbortSignal`, `fetch` and the adapters throw) or Node's equivalent (`name === 'AbortError'`).
 */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/**
 * The error an adapter throws once `signal` has aborted: the signal's reason when that is already an abort
 * error, else a DOMException `AbortError` carrying the reason as `cause`. {@link isAbortError} is true for it.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && isAbortError(reason)) return reason;
  return new DOMException('The operation was aborted.', { name: 'AbortError', cause: reason });
}
