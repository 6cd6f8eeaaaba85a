import { ApiProperty } from '@nestjs/swagger';
import { IsISO8601, IsOptional, Matches } from 'class-validator';
import { USAGE_PURPOSES, UsagePurpose } from './usage-daily.entity';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The days to report, both inclusive, as UTC dates. */
export class UsageQueryDto {
  /** First day, `YYYY-MM-DD` (UTC). Default: 29 days before `to`, so 30 days in all. */
  @ApiProperty({ required: false, format: 'date' })
  @IsOptional() @Matches(DAY, { message: 'from must be a date as YYYY-MM-DD' }) @IsISO8601({ strict: true })
  from?: string;

  /** Last day, `YYYY-MM-DD` (UTC). Default: today. */
  @ApiProperty({ required: false, format: 'date' })
  @IsOptional() @Matches(DAY, { message: 'to must be a date as YYYY-MM-DD' }) @IsISO8601({ strict: true })
  to?: string;
}

/** Usage summed over some model calls. */
export class UsageTotalsDto {
  /** Model calls: answers stored (complete, incomplete and failed alike), titles, summaries and previews. */
  @ApiProperty({ type: 'integer' }) requests: number;
  /** Input tokens, cached ones included. */
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  /** Output tokens, reasoning ones included. */
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** Of `tokens_input`, served from the provider's prompt cache. */
  @ApiProperty({ type: 'integer' }) tokens_cached: number;
  /** Of `tokens_output`, spent on hidden reasoning. */
  @ApiProperty({ type: 'integer' }) tokens_reasoning: number;
  /** USD, each call at the price in force when it was recorded. */
  cost: number;
}

/** One user's usage of one model for one purpose on one UTC day. */
export class UsageDayDto extends UsageTotalsDto {
  /** UTC date, `YYYY-MM-DD`. */
  day: string;
  /** Registry id of the model that answered. */
  model: string;
  /**
   * What the calls were for: `answer` (chat answers), `title` (session titles), `summary` (rolling summaries),
   * `preview` (prompt previews).
   */
  @ApiProperty({ enum: USAGE_PURPOSES, enumName: 'UsagePurpose' }) purpose: UsagePurpose;
}

/** A user's usage ledger over a range of days (`GET /v1/users/me/usage`). */
export class UsageReportDto {
  /** First day of the range (UTC), `YYYY-MM-DD`. */
  from: string;
  /** Last day of the range (UTC), `YYYY-MM-DD`. */
  to: string;
  /** Sums over the range. */
  totals: UsageTotalsDto;
  /**
   * Days with usage, oldest first, one entry per model and purpose used that day (by model, then purpose); days
   * without usage are left out.
   */
  days: UsageDayDto[];
}
