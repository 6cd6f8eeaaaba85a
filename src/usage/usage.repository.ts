import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { UsageDailyEntity, UsagePurpose } from './usage-daily.entity';

/** The `usage_daily` columns a model call adds to. */
const LEDGER_SUMS = ['requests', 'tokens_input', 'tokens_output', 'tokens_cached', 'tokens_reasoning', 'cost'];

/** `usage_daily.application_id` of calls made with a user access token (no application). */
const NO_APPLICATION = 0;

/** One model call's usage, as {@link UsageRepository.record} adds it up. */
export interface UsageEntry {
  userId: number;
  /** The application whose API key made the call; null for a user access token. */
  applicationId: number | null;
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
 * The `usage_daily` ledger, written only here. Every model call is added by {@link record} in the statement that
 * also adds it to the user's totals (users repository) and, for a call made for a session, to the session's
 * (chat sessions repository): answers in the statement that stores them, titles, summaries and previews on
 * their own.
 */
@Injectable()
export class UsageRepository {
  constructor(@InjectRepository(UsageDailyEntity) private readonly ledger: Repository<UsageDailyEntity>) {}

  /**
   * Adds to `stmt` a CTE `ledger` adding one model call to the user's `usage_daily` row for today (UTC), its model,
   * purpose and application, with relative increments so concurrent calls lose nothing.
   * @param userCte a CTE of the same statement returning the user's `id` (and locking the row); no row, no entry
   */
  record(stmt: SqlStatement, entry: UsageEntry, userCte: string): string {
    const values = [entry.tokensInput, entry.tokensOutput, entry.tokensCached, entry.tokensReasoning].map((n) => stmt.param(n, 'bigint'));
    return stmt.with(
      'ledger',
      `INSERT INTO usage_daily (user_id, day, model, purpose, application_id, ${LEDGER_SUMS.join(', ')})
       SELECT id, (now() AT TIME ZONE 'UTC')::date, ${stmt.param(entry.model, 'varchar')}, ${stmt.param(entry.purpose, 'varchar')},
         ${stmt.param(entry.applicationId ?? NO_APPLICATION, 'integer')}, 1, ${values.join(', ')}, ${stmt.param(entry.cost, 'numeric')} FROM ${userCte}
       ON CONFLICT (user_id, day, model, purpose, application_id) DO UPDATE SET
         ${LEDGER_SUMS.map((c) => `${c} = usage_daily.${c} + EXCLUDED.${c}`).join(', ')}
       RETURNING user_id`,
    );
  }

  /**
   * What the user (or one of its applications) spent from a UTC day on, every model and purpose together: the
   * source of truth budget counters are rebuilt from.
   * @param from first UTC day, `YYYY-MM-DD`, inclusive
   * @param applicationId only the calls made with this application's API keys; undefined: all of the user's
   * @returns input + output tokens, and USD
   */
  async spentSince(userId: number, from: string, applicationId?: number): Promise<{ tokens: number; cost: number }> {
    const qb = this.ledger
      .createQueryBuilder('u')
      .select('COALESCE(SUM(u.tokens_input + u.tokens_output), 0)', 'tokens')
      .addSelect('COALESCE(SUM(u.cost), 0)', 'cost')
      .where('u.user_id = :userId AND u.day >= :from', { userId, from });
    if (applicationId !== undefined) qb.andWhere('u.application_id = :applicationId', { applicationId });
    const row = await qb.getRawOne<{ tokens: string; cost: string }>();
    return { tokens: Number(row?.tokens ?? 0), cost: Number(row?.cost ?? 0) };
  }

  /**
   * @param from first UTC day, `YYYY-MM-DD`, inclusive
   * @param to last UTC day, `YYYY-MM-DD`, inclusive
   * @returns the user's rows in the range, by day, model and purpose
   */
  async daysOf(userId: number, from: string, to: string): Promise<UsageDayRow[]> {
    // Rows of several applications (and of the user's own token) on one day, model and purpose are summed.
    const rows = await this.ledger
      .createQueryBuilder('u')
      .select(`to_char(u.day, 'YYYY-MM-DD')`, 'day')
      .addSelect('u.model', 'model')
      .addSelect('u.purpose', 'purpose')
      .addSelect('SUM(u.requests)', 'requests')
      .addSelect('SUM(u.tokens_input)', 'tokensInput')
      .addSelect('SUM(u.tokens_output)', 'tokensOutput')
      .addSelect('SUM(u.tokens_cached)', 'tokensCached')
      .addSelect('SUM(u.tokens_reasoning)', 'tokensReasoning')
      .addSelect('SUM(u.cost)', 'cost')
      .where('u.user_id = :userId AND u.day BETWEEN :from AND :to', { userId, from, to })
      .groupBy('u.day')
      .addGroupBy('u.model')
      .addGroupBy('u.purpose')
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
