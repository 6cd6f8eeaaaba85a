import { HttpException, HttpStatus, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { STATUS_CODES } from 'node:http';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, pgCode } from '../database/pg-errors';
import { DomainError, DomainErrorCode } from './domain-error';
import { ProblemDetails, ProblemException } from './problem';
import { byTightness, rateLimitFields } from './quota';
import { isRedisUnavailable } from './redis-errors';
import { redactedPath } from './secret-paths';

const TYPE_BASE = 'https://chat-backend.dev/problems/';

/**
 * The HTTP status of each domain error (API.md "Errors"): a provider that rejected our credentials or request, or
 * is down → 502; rate limited → 429; timed out → 504; not configured on this server → 503; a conversation too
 * long for the model → 422; an account that must wait before its next login → 429; an unknown model name, or a
 * request the model can't serve (tools, images) → 400; an image URL the server will not fetch → 400, an image it
 * can't use → 422.
 */
const STATUS_BY_CODE: Record<DomainErrorCode, HttpStatus> = {
  'provider.auth': HttpStatus.BAD_GATEWAY,
  'provider.rate_limited': HttpStatus.TOO_MANY_REQUESTS,
  'provider.bad_request': HttpStatus.BAD_GATEWAY,
  'provider.unavailable': HttpStatus.BAD_GATEWAY,
  'provider.timeout': HttpStatus.GATEWAY_TIMEOUT,
  'provider.not_configured': HttpStatus.SERVICE_UNAVAILABLE,
  'context.too_small': HttpStatus.UNPROCESSABLE_ENTITY,
  'auth.login_backoff': HttpStatus.TOO_MANY_REQUESTS,
  'budget.exceeded': HttpStatus.TOO_MANY_REQUESTS,
  'budget.tokens_per_minute': HttpStatus.TOO_MANY_REQUESTS,
  'budget.model_not_allowed': HttpStatus.FORBIDDEN,
  'model.unknown': HttpStatus.BAD_REQUEST,
  'model.capability': HttpStatus.BAD_REQUEST,
  'image.refused': HttpStatus.BAD_REQUEST,
  'image.invalid': HttpStatus.UNPROCESSABLE_ENTITY,
  // IETF draft-ietf-httpapi-idempotency-key-header §2.7: a repeat while the first is being processed → 409, the key
  // reused with a different request → 422.
  'idempotency.in_progress': HttpStatus.CONFLICT,
  'idempotency.mismatch': HttpStatus.UNPROCESSABLE_ENTITY,
  'message.wrong_role': HttpStatus.CONFLICT,
};

/** Problem `type`s more precise than the status's name, so a client can tell a budget from a rate limit. */
const TYPE_BY_CODE: Partial<Record<DomainErrorCode, string>> = {
  'budget.exceeded': 'budget-exceeded',
  'budget.tokens_per_minute': 'tokens-per-minute',
  'budget.model_not_allowed': 'model-not-allowed',
  'model.capability': 'model-capability',
  'image.refused': 'image-refused',
  'image.invalid': 'image-invalid',
  'message.wrong_role': 'message-wrong-role',
};

/** The detail of every 503 caused by Redis being out of reach. */
export const REDIS_UNAVAILABLE_DETAIL = 'The shared store (Redis) is not answering; try again shortly.';

/** Seconds a client is asked to wait after a 503 caused by a dependency out of reach. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/** The request a problem is about: for `instance`, the log line and the 500's `request_id`. */
export interface ProblemRequest {
  method?: string;
  originalUrl?: string;
  id?: unknown;
}

const logger = new Logger('Errors');

/**
 * Maps any thrown value to RFC 9457 problem details: the one mapping used by the exception filter and by a
 * stream's `error` event. Domain errors get their status from {@link STATUS_BY_CODE}; unique and foreign key
 * violations become 409, oversized bodies 413, throttling 429; anything unexpected is logged with the request id
 * and answered as a bare 500 (no stack trace, SQL or secret ever reaches the client).
 */
export function problemOf(exception: unknown, req?: ProblemRequest): ProblemDetails {
  const requestId = req?.id as string | undefined;
  const instance = req?.originalUrl?.split('?')[0];
  if (exception instanceof DomainError) {
    const type = TYPE_BY_CODE[exception.code];
    const ext = {
      ...(type && { type: `${TYPE_BASE}${type}` }),
      ...(exception.fieldErrors && { errors: exception.fieldErrors }),
      ...exception.extensions,
    };
    return problem(STATUS_BY_CODE[exception.code], exception.message, instance, ext);
  }
  if (exception instanceof ProblemException) {
    return problem(exception.getStatus(), exception.message, instance, exception.extensions);
  }
  if (exception instanceof ThrottlerException) {
    return problem(429, 'Too many requests: wait for the time in Retry-After, then try again.', instance);
  }
  if (exception instanceof HttpException) return problem(exception.getStatus(), detailOf(exception), instance);
  const bodyError = exception as { type?: string; status?: number; expose?: boolean; message?: string };
  if (bodyError?.type === 'entity.too.large') {
    return problem(413, 'The request body is larger than this server accepts.', instance);
  }
  if (bodyError?.type === 'entity.parse.failed') return problem(400, 'The request body is not valid JSON.', instance);
  // The body parser's other refusals (an unsupported charset or content encoding, a body cut short): client
  // errors whose message is meant for the client (http-errors' `expose`).
  if (bodyError?.expose === true && typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return problem(bodyError.status, `The request body cannot be read: ${bodyError.message}.`, instance);
  }
  const code = exception instanceof QueryFailedError ? pgCode(exception) : undefined;
  if (code === '23505') return problem(409, 'A resource with these unique values already exists.', instance);
  // 23503: a row this request refers to was deleted meanwhile (services check existence first; this is the race).
  if (code === '23503') return problem(409, 'Something this request refers to was deleted meanwhile.', instance);
  // 22021/22P05: text PostgreSQL cannot store (U+0000); the pipe refuses it in bodies, this catches the rest.
  if (code === '22021' || code === '22P05') {
    return problem(422, 'The request holds characters that cannot be stored (U+0000).', instance);
  }
  if (isDatabaseUnavailable(exception)) {
    logger.error(`Database unavailable on ${req?.method} ${redactedPath(instance ?? '')}: ${(exception as Error).message}`);
    return problem(503, 'The database is not answering; try again shortly.', instance);
  }
  if (isRedisUnavailable(exception)) {
    logger.warn(`Redis unavailable on ${req?.method} ${redactedPath(instance ?? '')}: ${(exception as Error).message}`);
    return problem(503, REDIS_UNAVAILABLE_DETAIL, instance);
  }
  logger.error(`Unhandled error on ${req?.method} ${redactedPath(instance ?? '')} (request ${requestId ?? '-'}): ${(exception as Error)?.stack ?? String(exception)}`);
  return problem(500, 'An unexpected error occurred. It has been logged.', instance, { request_id: requestId });
}

/**
 * Headers that go with the problem of `exception`: `Retry-After` (RFC 9110 §10.2.3) for waits and for a Redis out of
 * reach, the RateLimit fields of the limit that refused it (draft-ietf-httpapi-ratelimit-headers), and a
 * ProblemException's own.
 */
export function problemHeaders(exception: unknown): Record<string, string> {
  if (exception instanceof ProblemException) return exception.headers;
  if (isRedisUnavailable(exception)) return { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) };
  const waits = (e: DomainError) =>
    e.code === 'provider.rate_limited' || e.code === 'auth.login_backoff' || e.code === 'idempotency.in_progress' || e.retryAfterSeconds !== undefined;
  if (exception instanceof DomainError && waits(exception)) {
    const headers: Record<string, string> = { 'Retry-After': String(Math.max(1, Math.ceil(exception.retryAfterSeconds ?? 1))) };
    const fields = byTightness(exception.quotas ?? []).map(rateLimitFields);
    if (fields.length) {
      headers['RateLimit-Policy'] = fields.map((f) => f['RateLimit-Policy']).join(', ');
      headers.RateLimit = fields.map((f) => f.RateLimit).join(', ');
    }
    return headers;
  }
  return {};
}

function detailOf(exception: HttpException): string {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string' && message.length) {
    // Nest's default "Cannot GET /x" is fine; its bare status names get a sentence.
    return /[.!?]$/.test(message) ? message : `${message}.`;
  }
  return `${STATUS_CODES[exception.getStatus()] ?? 'Error'}.`;
}

function problem(status: number, detail: string, instance?: string, ext: Partial<ProblemDetails> = {}): ProblemDetails {
  const title = STATUS_CODES[status] ?? 'Error';
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return {
    type: status === (HttpStatus.INTERNAL_SERVER_ERROR as number) ? 'about:blank' : `${TYPE_BASE}${slug}`,
    title,
    status,
    detail,
    ...(instance ? { instance } : {}),
    ...ext,
  };
}
