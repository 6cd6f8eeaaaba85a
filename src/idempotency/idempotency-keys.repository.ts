import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { StoredResponse } from './stored-response';

/** The only writer of `idempotency_keys`. */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(@InjectRepository(IdempotencyKeyEntity) private readonly keys: Repository<IdempotencyKeyEntity>) {}

  /**
   * Takes the key for a first request, in one statement: inserts it `pending`, or takes over a row that has expired
   * or stayed `pending` longer than `pendingTimeoutSeconds` (its request's process stopped before storing anything).
   * Two requests racing for one key meet at the primary key: exactly one gets true.
   * @returns true when the caller now holds the key; false when a live row is there (read it with {@link find})
   */
  async claim(userId: number, key: string, fingerprint: string, ttlSeconds: number, pendingTimeoutSeconds: number): Promise<boolean> {
    const rows: unknown[] = await this.keys.query(
      `INSERT INTO idempotency_keys AS k (user_id, key, fingerprint, state, expires_at)
       VALUES ($1, $2, $3, 'pending', now() + make_interval(secs => $4))
       ON CONFLICT (user_id, key) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, state = 'pending', message_id = NULL, session_id = NULL, response = NULL,
             created_at = now(), expires_at = EXCLUDED.expires_at
         WHERE k.expires_at <= now() OR (k.state = 'pending' AND k.created_at < now() - make_interval(secs => $5))
       RETURNING 1`,
      [userId, key, fingerprint, ttlSeconds, pendingTimeoutSeconds],
    );
    return rows.length > 0;
  }

  /** The user's key, or null when it is not there or has expired. */
  async find(userId: number, key: string): Promise<IdempotencyKeyEntity | null> {
    return this.keys
      .createQueryBuilder('k')
      .where('k.user_id = :userId AND k.key = :key AND k.expires_at > now()', { userId, key })
      .getOne();
  }

  /**
   * Adds to `stmt` a CTE `idempotency_key` recording on the held key the answer a send stores in the same
   * statement, so the turn and its key's outcome commit together.
   * @param sessionCte a CTE returning the session's `id`
   * @param messagesCte a CTE returning the turn's message `id`s, the answer's the largest
   */
  recordAnswer(stmt: SqlStatement, userId: number, key: string, sessionCte: string, messagesCte: string): string {
    return stmt.with(
      'idempotency_key',
      `UPDATE idempotency_keys SET state = 'stored', session_id = (SELECT id FROM ${sessionCte}),
         message_id = (SELECT max(id) FROM ${messagesCte})
       WHERE user_id = ${stmt.param(userId, 'integer')} AND key = ${stmt.param(key, 'varchar')} RETURNING 1`,
    );
  }

  /** Records the JSON response a request with the key gave (it is `stored` from then on). */
  async storeResponse(userId: number, key: string, response: StoredResponse): Promise<void> {
    await this.keys.query(`UPDATE idempotency_keys SET state = 'stored', response = $3::jsonb WHERE user_id = $1 AND key = $2`, [
      userId,
      key,
      JSON.stringify(response),
    ]);
  }

  /** Gives the key back when its request failed before storing anything (a repeat then does the work). */
  async release(userId: number, key: string): Promise<void> {
    await this.keys.query(`DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'pending'`, [userId, key]);
  }

  /**
   * Deletes expired keys.
   * @returns how many were deleted
   */
  async deleteExpired(): Promise<number> {
    const [, count] = await this.keys.query<[unknown, number]>(`DELETE FROM idempotency_keys WHERE expires_at <= now()`);
    return count;
  }
}
