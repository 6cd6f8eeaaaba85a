import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { UsageDailyEntity, UsagePurpose } from './usage-daily.entity';

/** The `usage_daily` columns a model call adds to. */
const LEDGER_SUMS = ['requests', 'tokens_input', 'tokens_output', 'tokens_cached', 'tokens_reasoning', 'cost'];

/** One model call's usage, as {@link UsageRepository.record} adds it up. */
export interface UsageEntry {
  userId: number;
  /** The session whose totals include the call (answers, titles, summaries); none for a prompt preview. */
  sessionId?: number;
  /** Registry id of the model that answered (after a failure: the last one tried). */
  model: string;
  purpose: UsagePurpose;
  /** Cached input included. */
  tokensInput: number;
  /** Reasoning included. */
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  /** USD, at the price in force now. */
  cost: number;
}

/** One ledger row as read: a user's usage of one model for one purpose on one UTC day. */
export interface UsageDayRow {
  day: string;
  model: string;
  purpose: UsagePurpose;
  requests: number;
  tokensInput: number;
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  cost: number;
}

/**
 * The `usage_daily` ledger and the running usage totals of users and sessions. Every model call is added by
 * {@link record}: answers in the transaction that stores them (`MessagesRepository.finishAnswer`), titles,
 * summaries and previews on their own. It writes the `users` and `chat_sessions` totals itself (tables the users
 * and chats modules own) so that a call's ledger row and totals change in one atomic step.
 */
@Injectable()
export class UsageRepository {
  constructor(@InjectRepository(UsageDailyEntity) private readonly ledger: Repository<UsageDailyEntity>) {}

  /**
   * Adds one model call to the user's totals, the session's (when `entry.sessionId`) and the user's `usage_daily`
   * row for today (UTC), its model and purpose, atomically, with relative increments so concurrent calls lose
   * nothing. `updated_at` is left alone: usage is not an edit. A user deleted meanwhile gets no ledger row.
   * @param manager the caller's transaction; without one, a transaction of its own
   */
  async record(entry: UsageEntry, manager?: EntityManager): Promise<void> {
    if (!manager) return this.ledger.manager.transaction((tx) => this.record(entry, tx));
    const { userId, sessionId, tokensInput, tokensOutput, cost } = entry;
    if (sessionId !== undefined) {
      await manager.query(
        `UPDATE chat_sessions SET tokens_input = tokens_input + $2, tokens_output = tokens_output + $3, cost = cost + $4
          WHERE id = $1`,
        [sessionId, tokensInput, tokensOutput, cost],
      );
    }
    const [, users]: [unknown, number] = await manager.query(
      'UPDATE users SET tokens_input = tokens_input + $2, tokens_output = tokens_output + $3, cost = cost + $4 WHERE id = $1',
      [userId, tokensInput, tokensOutput, cost],
    );
    // The update locks the user's row until commit, so the ledger's foreign key can't be broken meanwhile.
    if (!users) return;
    await manager.query(
      `INSERT INTO usage_daily (user_id, day, model, purpose, ${LEDGER_SUMS.join(', ')})
       VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3, 1, $4, $5, $6, $7, $8)
       ON CONFLICT (user_id, day, model, purpose) DO UPDATE SET
         ${LEDGER_SUMS.map((c) => `${c} = usage_daily.${c} + EXCLUDED.${c}`).join(', ')}`,
      [userId, entry.model, entry.purpose, tokensInput, tokensOutput, entry.tokensCached, entry.tokensReasoning, cost],
    );
  }

  /**
   * @param from first UTC day, `YYYY-MM-DD`, inclusive
   * @param to last UTC day, `YYYY-MM-DD`, inclusive
   * @returns the user's rows in the range, by day, model and purpose
   */
  async daysOf(userId: number, from: string, to: string): Promise<UsageDayRow[]> {
    const rows = await this.ledger
      .createQueryBuilder('u')
      .select(`to_char(u.day, 'YYYY-MM-DD')`, 'day')
      .addSelect('u.model', 'model')
      .addSelect('u.purpose', 'purpose')
      .addSelect('u.requests', 'requests')
      .addSelect('u.tokens_input', 'tokensInput')
      .addSelect('u.tokens_output', 'tokensOutput')
      .addSelect('u.tokens_cached', 'tokensCached')
      .addSelect('u.tokens_reasoning', 'tokensReasoning')
      .addSelect('u.cost', 'cost')
      .where('u.user_id = :userId AND u.day BETWEEN :from AND :to', { userId, from, to })
      .orderBy('u.day', 'ASC')
      .addOrderBy('u.model', 'ASC')
      .addOrderBy('u.purpose', 'ASC')
      .getRawMany<Record<string, string>>();
    return rows.map((r) => ({
      day: r.day,
      model: r.model,
      purpose: r.purpose as UsagePurpose,
      requests: Number(r.requests),
      tokensInput: Number(r.tokensInput),
      tokensOutput: Number(r.tokensOutput),
      tokensCached: Number(r.tokensCached),
      tokensReasoning: Number(r.tokensReasoning),
      cost: Number(r.cost),
    }));
  }
}
