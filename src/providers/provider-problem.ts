import { HttpStatus } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { ModelProviderError } from './model-provider';

/**
 * Maps a provider failure to the answer a client gets (API.md "Errors"): credentials rejected → 502 (the key is
 * never shown), rate limited → 429 with `Retry-After`, refused request or outage → 502, timeout → 504,
 * provider not configured → 503.
 */
export function providerProblem(err: ModelProviderError): ProblemException {
  switch (err.kind) {
    case 'auth':
      return new ProblemException(HttpStatus.BAD_GATEWAY, 'The model provider rejected this server\'s credentials.');
    case 'rate_limited': {
      const retryAfter = String(Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1)));
      return new ProblemException(
        HttpStatus.TOO_MANY_REQUESTS,
        'The model provider is rate limiting this server; try again later.',
        {},
        { 'Retry-After': retryAfter },
      );
    }
    case 'timeout':
      return new ProblemException(HttpStatus.GATEWAY_TIMEOUT, 'The model provider did not answer in time.');
    case 'not_configured':
      return new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, err.message);
    case 'bad_request':
      return new ProblemException(HttpStatus.BAD_GATEWAY, `The model provider refused the request: ${err.message}`);
    default:
      return new ProblemException(HttpStatus.BAD_GATEWAY, `The model provider failed: ${err.message}`);
  }
}
