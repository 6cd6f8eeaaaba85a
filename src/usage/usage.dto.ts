import { ApiProperty } from '@nestjs/swagger';
import { IsISO8601, IsOptional, Matches } from 'class-validator';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The days to report, both inclusive, as UTC dates. */
export class UsageQueryDto {
  /** First day, `YYYY-MM-DD` (UTC). Default: 29 days before `to`, so 30 days in all. */
  @IsOptional() @Matches(DAY, { message: 'from must be a date as YYYY-MM-DD' }) @IsISO8601({ strict: true })
  from?: string;

  /** Last day, `YYYY-MM-DD` (UTC). Default: today. */
  @IsOptional() @Matches(DAY, { message: 'to must be a date as YYYY-MM-DD' }) @IsISO8601({ strict: true })
  to?: string;
}

/** Usage summed over some answers. */
export class UsageTotalsDto {
  /** Answers stored: complete, incomplete (the client left) and failed alike. */
  @ApiProperty({ type: 'integer' }) requests: number;
  /** Input tokens, cached ones included. */
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  /** Output tokens, reasoning ones included. */
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** Of `tokens_input`, served from the provider's prompt cache. */
  @ApiProperty({ type: 'integer' }) tokens_cached: number;
  /** Of `tokens_output`, spent on hidden reasoning. */
  @ApiProperty({ type: 'integer' }) tokens_reasoning: number;
  /** USD, each answer at the price in force when it was stored. */
  cost: number;
}

/** One user's usage of one model on one UTC day. */
export class UsageDayDto extends UsageTotalsDto {
  /** UTC date, `YYYY-MM-DD`. */
  day: string;
  /** Registry id of the model that answered. */
  model: string;
}

/** A user's usage ledger over a range of days (`GET /v1/users/me/usage`). */
export class UsageReportDto {
  /** First day of the range (UTC), `YYYY-MM-DD`. */
  from: string;
  /** Last day of the range (UTC), `YYYY-MM-DD`. */
  to: string;
  /** Sums over the range. */
  totals: UsageTotalsDto;
  /** Days with usage, oldest first, one entry per model used that day; days without usage are left out. */
  days: UsageDayDto[];
}
