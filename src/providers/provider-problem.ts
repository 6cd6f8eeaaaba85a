import { HttpStatus } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { ModelProviderError, ModelProviderErrorKind } from './model-provider';

const STATUS_BY_KIND: Record<ModelProviderErrorKind, HttpStatus> = {
  auth: HttpStatus.BAD_GATEWAY,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  bad_request: HttpStatus.BAD_GATEWAY,
  unavailable: HttpStatus.BAD_GATEWAY,
  timeout: HttpStatus.GATEWAY_TIMEOUT,
  not_configured: HttpStatus.SERVICE_UNAVAILABLE,
};

/**
 * Maps a provider failure to the answer a client gets (API.md "Errors"): credentials rejected, refused request
 * or outage → 502, rate limited → 429 with `Retry-After`, timeout → 504, not configured → 503. The adapters'
 * messages are already client-safe sentences (never a key), so they are the `detail`.
 */
export function providerProblem(err: ModelProviderError): ProblemException {
  const headers: Record<string, string> =
    err.kind === 'rate_limited' ? { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1))) } : {};
  return new ProblemException(STATUS_BY_KIND[err.kind], err.message, {}, headers);
}
