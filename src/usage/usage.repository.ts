import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { UsageDailyEntity } from './usage-daily.entity';

/** One ledger row as read: a user's usage of one model on one UTC day. */
export interface UsageDayRow {
  day: string;
  model: string;
  requests: number;
  tokensInput: number;
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  cost: number;
}

/**
 * Reads the `usage_daily` ledger. Its rows are written by `MessagesRepository.finishAnswer`, in the transaction
 * that stores each answer.
 */
@Injectable()
export class UsageRepository {
  constructor(@InjectRepository(UsageDailyEntity) private readonly ledger: Repository<UsageDailyEntity>) {}

  /**
   * @param from first UTC day, `YYYY-MM-DD`, inclusive
   * @param to last UTC day, `YYYY-MM-DD`, inclusive
   * @returns the user's rows in the range, by day then model
   */
  async daysOf(userId: number, from: string, to: string): Promise<UsageDayRow[]> {
    const rows = await this.ledger
      .createQueryBuilder('u')
      .select(`to_char(u.day, 'YYYY-MM-DD')`, 'day')
      .addSelect('u.model', 'model')
      .addSelect('u.requests', 'requests')
      .addSelect('u.tokens_input', 'tokensInput')
      .addSelect('u.tokens_output', 'tokensOutput')
      .addSelect('u.tokens_cached', 'tokensCached')
      .addSelect('u.tokens_reasoning', 'tokensReasoning')
      .addSelect('u.cost', 'cost')
      .where('u.user_id = :userId AND u.day BETWEEN :from AND :to', { userId, from, to })
      .orderBy('u.day', 'ASC')
      .addOrderBy('u.model', 'ASC')
      .getRawMany<Record<string, string>>();
    return rows.map((r) => ({
      day: r.day,
      model: r.model,
      requests: Number(r.requests),
      tokensInput: Number(r.tokensInput),
      tokensOutput: Number(r.tokensOutput),
      tokensCached: Number(r.tokensCached),
      tokensReasoning: Number(r.tokensReasoning),
      cost: Number(r.cost),
    }));
  }

}
