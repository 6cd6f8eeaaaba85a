import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { FieldError } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { SqlStatement } from '../database/sql-statement';
import { StoredResponse } from './stored-response';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';

/** The request header carrying the key (IETF draft-ietf-httpapi-idempotency-key-header §2). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * A repeat of an idempotency key that cannot be answered with the first request's outcome: `in_progress` (409,
 * with `Retry-After`) while the first request has stored nothing yet; `mismatch` (422) when the key came with a
 * different request (IETF draft-ietf-httpapi-idempotency-key-header §2.7).
 */
export class IdempotencyError extends DomainError {
  override readonly fieldErrors: FieldError[];
  override readonly retryAfterSeconds?: number;

  constructor(readonly code: Extract<DomainErrorCode, 'idempotency.in_progress' | 'idempotency.mismatch'>) {
    const message =
      code === 'idempotency.in_progress'
        ? `A request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed; repeat it after Retry-After to get its outcome.`
        : `This ${IDEMPOTENCY_KEY_HEADER} was used with a different request; use a new key for a new request.`;
    super(message);
    this.fieldErrors = [{ field: IDEMPOTENCY_KEY_HEADER, message }];
    this.retryAfterSeconds = code === 'idempotency.in_progress' ? 1 : undefined;
  }
}

/** What the first request with a key left for its repeats. */
export interface IdempotentOutcome {
  /** For a send: the answer it started and its session. */
  messageId: number | null;
  sessionId: number | null;
  /** A JSON response to return as it is. */
  response: StoredResponse | null;
}

/** The first request with a key holds it until it records its outcome, or gives it back by failing. */
export class IdempotencyClaim {
  constructor(
    private readonly keys: IdempotencyKeysRepository,
    readonly userId: number,
    readonly key: string,
  ) {}

  /** Adds to a send's statement the write recording its answer on the key (committed with the turn). */
  recordAnswer(stmt: SqlStatement, sessionCte: string, messagesCte: string): void {
    this.keys.recordAnswer(stmt, this.userId, this.key, sessionCte, messagesCte);
  }

  /** Records the JSON response returned to this request; repeats get it as it is. */
  complete(response: StoredResponse): Promise<void> {
    return this.keys.storeResponse(this.userId, this.key, response);
  }

  /** Gives the key back: the request failed before its work was stored, so a repeat may do it. */
  release(): Promise<void> {
    return this.keys.release(this.userId, this.key);
  }
}

/**
 * Idempotent requests: a request sent again with the same `Idempotency-Key` by the same user gets the first one's
 * outcome instead of doing the work twice. Keys live in PostgreSQL for `idempotency.ttl_seconds`; every instance
 * deletes expired ones every `idempotency.sweep_interval_ms`.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly keys: IdempotencyKeysRepository,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.idempotency.sweep_interval_ms).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
  }

  /**
   * Takes the key for this request, or finds what the first request with it did.
   * @param fingerprint what identifies the request ({@link requestFingerprint})
   * @returns a claim (this is the first request: do the work, then record it or release the key), or the first
   *          request's outcome
   * @throws IdempotencyError `mismatch` when the key came with another request; `in_progress` while the first
   *         request has stored nothing yet
   */
  async begin(userId: number, key: string, fingerprint: string): Promise<IdempotencyClaim | IdempotentOutcome> {
    const { ttl_seconds, pending_timeout_seconds } = this.config.idempotency;
    // A row deleted between the two statements (its request gave the key back) is claimed on the second pass.
    for (let pass = 0; pass < 2; pass++) {
      if (await this.keys.claim(userId, key, fingerprint, ttl_seconds, pending_timeout_seconds)) {
        return new IdempotencyClaim(this.keys, userId, key);
      }
      const row = await this.keys.find(userId, key);
      if (!row) continue;
      if (row.fingerprint !== fingerprint) throw new IdempotencyError('idempotency.mismatch');
      if (row.state === 'pending') throw new IdempotencyError('idempotency.in_progress');
      return { messageId: row.messageId, sessionId: row.sessionId, response: row.response };
    }
    throw new IdempotencyError('idempotency.in_progress');
  }

  private async sweep(): Promise<void> {
    try {
      const deleted = await this.keys.deleteExpired();
      if (deleted) this.logger.log(`Deleted ${deleted} expired idempotency key(s)`);
    } catch (err) {
      this.logger.warn(`Sweep of expired idempotency keys failed: ${(err as Error).message}`);
    }
  }
}

/**
 * Identifies a request for its key: SHA-256 hex of the method, the path and the body as canonical JSON (object
 * keys sorted at every level), so the same request written with its fields in another order is the same request.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n${canonicalJson(body ?? null)}`).digest('hex');
}

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
