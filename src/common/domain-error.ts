import type { FieldError } from './problem';
import type { QuotaState } from './quota';

/**
 * The codes of errors raised below the HTTP edge. Each maps to one HTTP status in the problem mapping
 * (`problem-details.ts`), the only place that knows HTTP: `provider.*` are model provider failures
 * (see `ModelProviderErrorKind`), `context.too_small` is a conversation that does not fit a model's window,
 * `auth.login_backoff` an account that must wait before its next login attempt, `budget.*` a send refused by the
 * caller's budgets (a spending or token limit reached, or a model outside `allowed_models`), `model.unknown` a
 * model name the registry does not know, `model.capability` a request a model can't serve (tools or images to a model
 * without them), `image.refused` an image URL the server will not fetch (not `https:`, or a host that is not a
 * public address), `image.invalid` an image that can't be used (not PNG, JPEG, WebP or GIF, too large, or not
 * fetched), `message.wrong_role` a branch operation on a message of the wrong role (regenerating a question,
 * editing an answer).
 */
export type DomainErrorCode =
  | 'provider.auth'
  | 'provider.rate_limited'
  | 'provider.bad_request'
  | 'provider.unavailable'
  | 'provider.timeout'
  | 'provider.not_configured'
  | 'context.too_small'
  | 'auth.login_backoff'
  | 'budget.exceeded'
  | 'budget.tokens_per_minute'
  | 'budget.model_not_allowed'
  | 'model.unknown'
  | 'model.capability'
  | 'image.refused'
  | 'image.invalid'
  | 'idempotency.in_progress'
  | 'idempotency.mismatch'
  | 'message.wrong_role';

/**
 * An error a service throws when a request can't be served for a reason of the domain. `message` is a sentence
 * safe to show to a client (never a secret); the edge turns it into problem details (RFC 9457).
 */
export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  /** Field-level reasons, shown as the problem's `errors`. */
  readonly fieldErrors?: FieldError[];
  /** Seconds after which a retry may succeed, shown as `Retry-After`. */
  readonly retryAfterSeconds?: number;
  /** Members added to the problem (e.g. which limit refused a send). */
  readonly extensions?: Record<string, unknown>;
  /** The limit that refused the request, advertised in the IETF RateLimit header fields of the refusal. */
  readonly quotas?: QuotaState[];
}
