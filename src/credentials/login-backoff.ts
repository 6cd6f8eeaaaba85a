import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DomainError } from '../common/domain-error';
import { AppConfig, appConfig } from '../config/app-config';
import { RedisConnection } from '../rate-limit/redis.provider';
import { BackoffState, LoginFailuresRepository } from './login-failures.repository';

/** Thrown when an account must wait before its next login attempt (→ 429 with `Retry-After`). */
export class LoginBackoffError extends DomainError {
  readonly code = 'auth.login_backoff' as const;

  constructor(override readonly retryAfterSeconds: number) {
    super(`Too many failed logins for this account: try again in ${retryAfterSeconds} seconds.`);
  }
}

/** The Redis keys of one account: its failure count and its lock (whose TTL is the wait). */
const keysOf = (accountHash: string) => [`login-backoff:count:${accountHash}`, `login-backoff:lock:${accountHash}`];

/**
 * Counts a failure and sets the lock, atomically. KEYS: count, lock. ARGV: free_failures, base ms, max ms, forget ms.
 * The exponent is capped, so the wait never overflows before `max` caps it.
 */
const RECORD_FAILURE = `
local failures = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local free = tonumber(ARGV[1])
if failures >= free then
  local wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ math.min(failures - free, 40))
  redis.call('SET', KEYS[2], '1', 'PX', math.floor(wait))
end
return failures`;

/** How often an instance deletes forgotten counts from PostgreSQL (Redis expires its keys by itself). */
const CLEANUP_INTERVAL_MS = 10 * 60_000;

/**
 * Per-account login backoff (OWASP Authentication Cheat Sheet, "account lockout" done as a growing delay): after
 * `auth.login_backoff.free_failures` failed logins of one email, every further attempt must wait, the wait
 * doubling with each failure up to `max_seconds`; a successful login clears it. Accounts are keyed by the SHA-256 of
 * the email whether or not the account exists, so an unknown email is answered exactly like a known one. The
 * counts are shared by every instance: in Redis when `REDIS_URL` is set, else in PostgreSQL.
 */
@Injectable()
export class LoginBackoff {
  private readonly logger = new Logger(LoginBackoff.name);
  private nextCleanupAt = 0;

  constructor(
    private readonly failures: LoginFailuresRepository,
    private readonly redis: RedisConnection,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * Call before checking the password.
   * @param email the normalised email
   * @returns whether the account has failures counted (so a success has something to clear)
   * @throws LoginBackoffError while the account must wait
   */
  async admit(email: string): Promise<{ hasFailures: boolean }> {
    const state = await this.state(accountOf(email));
    if (state.waitSeconds > 0) throw new LoginBackoffError(state.waitSeconds);
    return { hasFailures: state.hasFailures };
  }

  /** Counts a failed login of `email` (wrong password, or no such account). */
  async recordFailure(email: string): Promise<void> {
    const account = accountOf(email);
    const rule = this.config.auth.login_backoff;
    const client = this.redis.client;
    if (client) {
      await client.eval(RECORD_FAILURE, 2, ...keysOf(account), rule.free_failures, rule.base_seconds * 1000, rule.max_seconds * 1000, rule.forget_after_seconds * 1000);
      return;
    }
    await this.failures.recordFailure(account, rule);
    if (Date.now() >= this.nextCleanupAt) {
      this.nextCleanupAt = Date.now() + CLEANUP_INTERVAL_MS;
      this.failures
        .deleteForgotten(rule.forget_after_seconds)
        .catch((err) => this.logger.warn(`Could not delete forgotten login failures: ${String(err)}`));
    }
  }

  /** Clears the failures of `email` after a successful login. */
  async recordSuccess(email: string): Promise<void> {
    const account = accountOf(email);
    if (this.redis.client) await this.redis.client.del(...keysOf(account));
    else await this.failures.clear(account);
  }

  private async state(account: string): Promise<BackoffState> {
    const client = this.redis.client;
    if (!client) return this.failures.state(account);
    const [count, lock] = keysOf(account);
    const [exists, ttl] = await Promise.all([client.exists(count), client.pttl(lock)]);
    return { waitSeconds: ttl > 0 ? Math.ceil(ttl / 1000) : 0, hasFailures: exists > 0 };
  }
}

function accountOf(email: string): string {
  return createHash('sha256').update(email).digest('hex');
}
