import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { LoginBackoffConfig } from '../config/file-config';
import { LoginFailureEntity } from './login-failure.entity';

/** Largest exponent of the doubling: 2^40 seconds is far beyond any `max_seconds`, and float8 never overflows. */
const MAX_DOUBLINGS = 40;

/** The state of one account's failures: seconds still to wait (0: none) and whether any failure is counted. */
export interface BackoffState {
  waitSeconds: number;
  hasFailures: boolean;
}

/** Persistence of failed-login counts in PostgreSQL (the backoff's store without Redis); the only writer of `login_failures`. */
@Injectable()
export class LoginFailuresRepository {
  constructor(@InjectRepository(LoginFailureEntity) private readonly failures: Repository<LoginFailureEntity>) {}

  /** @returns how long the account must still wait (database clock), and whether it has failures counted */
  async state(accountHash: string): Promise<BackoffState> {
    const [row] = await this.failures.query<{ wait: number | null }[]>(
      `SELECT greatest(0, ceil(extract(epoch FROM locked_until - now())))::int AS wait
         FROM login_failures WHERE account_hash = $1`,
      [accountHash],
    );
    return { waitSeconds: row?.wait ?? 0, hasFailures: row !== undefined };
  }

  /**
   * Counts one more failure in a single upsert (concurrent failures all count); from the `free_failures`-th on,
   * the account is locked for `base_seconds × 2^(failures − free_failures)`, at most `max_seconds`. A count older
   * than `forget_after_seconds` starts again from 1.
   */
  async recordFailure(accountHash: string, rule: LoginBackoffConfig): Promise<void> {
    const next = `(CASE WHEN f.last_failure_at < now() - make_interval(secs => $5::int) THEN 1 ELSE f.failures + 1 END)`;
    const lock = (n: string) =>
      `CASE WHEN ${n} >= $2::int THEN now() + make_interval(secs => least($4::float8, $3::float8 * power(2, least(${n} - $2::int, ${MAX_DOUBLINGS})))) END`;
    await this.failures.query(
      `INSERT INTO login_failures AS f (account_hash, failures, last_failure_at, locked_until)
       VALUES ($1, 1, now(), ${lock('1')})
       ON CONFLICT (account_hash) DO UPDATE SET failures = ${next}, last_failure_at = now(), locked_until = ${lock(next)}`,
      [accountHash, rule.free_failures, rule.base_seconds, rule.max_seconds, rule.forget_after_seconds],
    );
  }

  /** Forgets an account's failures (a successful login). */
  async clear(accountHash: string): Promise<void> {
    await this.failures.delete({ accountHash });
  }

  /** Deletes counts forgotten anyway: no failure for `forgetAfterSeconds` and no lock left. */
  async deleteForgotten(forgetAfterSeconds: number): Promise<void> {
    await this.failures.query(
      `DELETE FROM login_failures
        WHERE last_failure_at < now() - make_interval(secs => $1::int) AND (locked_until IS NULL OR locked_until < now())`,
      [forgetAfterSeconds],
    );
  }
}
