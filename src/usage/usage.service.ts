import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { invalidField, notFound } from '../common/problem';
import { MetricsService } from '../metrics/metrics.service';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelUsage } from '../providers/model-provider';
import { costOf, RegisteredModel, roundUsd } from '../providers/model-registry';
import { UsersRepository } from '../users/users.repository';
import { UsageDayDto, UsageQueryDto, UsageReportDto, UsageTotalsDto } from './usage.dto';
import { UsagePurpose } from './usage-daily.entity';
import { UsageDayRow, UsageRepository } from './usage.repository';

/** A model call as {@link UsageService.recordCall} takes it. */
export interface ModelCall {
  userId: number;
  /** The application whose API key made the call; null or absent: a user access token. */
  applicationId?: number | null;
  purpose: UsagePurpose;
  /** The model that answered (`route.model` after the call). */
  model: RegisteredModel;
  usage: ModelUsage;
}

const DAY_MS = 86_400_000;
/** Days reported when the query names no `from` (today included). */
const DEFAULT_RANGE_DAYS = 30;

/** `YYYY-MM-DD` of a UTC instant. */
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Records model calls other than answers, and reports from the usage ledger (`usage_daily`). */
@Injectable()
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly users: UsersRepository,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /**
   * Adds a model call to the user's totals and the ledger, priced at the answering model's price now in force.
   * A user deleted meanwhile gets no ledger row.
   * @param stmt the caller's statement (an answer is stored, and a session's totals grow, in the same one); without
   *        one, a statement of its own is run
   * @returns the call's cost in USD
   */
  async recordCall(call: ModelCall, stmt?: SqlStatement): Promise<number> {
    const own = stmt ?? new SqlStatement();
    const cost = costOf(call.model, call.usage);
    this.metrics?.usage({ provider: call.model.provider, model: call.model.id, purpose: call.purpose }, call.usage, cost);
    const sums = { tokensInput: call.usage.inputTokens, tokensOutput: call.usage.outputTokens, cost };
    const user = this.users.addUsage(own, call.userId, sums);
    this.usage.record(
      own,
      {
        userId: call.userId,
        applicationId: call.applicationId ?? null,
        model: call.model.id,
        purpose: call.purpose,
        ...sums,
        tokensCached: call.usage.cachedInputTokens ?? 0,
        tokensReasoning: call.usage.reasoningTokens ?? 0,
      },
      user,
    );
    if (!stmt) await own.run(this.db);
    return cost;
  }

  /**
   * A user's usage over `query.from`..`query.to` (UTC days, inclusive; default the last 30 days).
   * @throws 404 when the user does not exist; 422 when `from` is after `to` or the range is wider than
   *         `limits.usage_max_range_days`
   */
  async report(userId: number, query: UsageQueryDto): Promise<UsageReportDto> {
    const { from, to } = this.range(query);
    if (!(await this.users.findById(userId))) throw notFound('User');
    const rows = await this.usage.daysOf(userId, from, to);
    return { from, to, totals: sum(rows), days: rows.map(toDayDto) };
  }

  private range(query: UsageQueryDto): { from: string; to: string } {
    const to = query.to ?? utcDay(Date.now());
    const from = query.from ?? utcDay(Date.parse(to) - (DEFAULT_RANGE_DAYS - 1) * DAY_MS);
    if (from > to) throw invalidField('from', 'must not be after to');
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
    const max = this.config.limits.usage_max_range_days;
    if (days > max) throw invalidField('from', `the range covers ${days} days; at most ${max} are allowed (limits.usage_max_range_days)`);
    return { from, to };
  }
}

function toDayDto(r: UsageDayRow): UsageDayDto {
  return {
    day: r.day,
    model: r.model,
    purpose: r.purpose,
    requests: r.requests,
    tokens_input: r.tokensInput,
    tokens_output: r.tokensOutput,
    tokens_cached: r.tokensCached,
    tokens_reasoning: r.tokensReasoning,
    cost: r.cost,
  };
}

/** Sums the rows; the cost is rounded to the ledger's 8 decimals so float addition adds no noise. */
function sum(rows: UsageDayRow[]): UsageTotalsDto {
  const totals = { requests: 0, tokens_input: 0, tokens_output: 0, tokens_cached: 0, tokens_reasoning: 0, cost: 0 };
  for (const r of rows) {
    totals.requests += r.requests;
    totals.tokens_input += r.tokensInput;
    totals.tokens_output += r.tokensOutput;
    totals.tokens_cached += r.tokensCached;
    totals.tokens_reasoning += r.tokensReasoning;
    totals.cost += r.cost;
  }
  totals.cost = roundUsd(totals.cost);
  return totals;
}
