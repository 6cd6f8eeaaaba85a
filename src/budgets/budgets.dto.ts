import { ApiProperty } from '@nestjs/swagger';

/** One counted limit of the caller, in its current window. */
export class LimitStateDto {
  @ApiProperty({ enum: ['tokens_per_minute', 'daily_tokens', 'daily_cost_usd', 'monthly_cost_usd'] })
  name: string;
  /** The window the limit counts in (UTC clock minute, day or calendar month). */
  @ApiProperty({ enum: ['minute', 'day', 'month'] })
  window: string;
  /** Tokens, or USD for the `*_cost_usd` limits; null: unlimited. */
  @ApiProperty({ type: 'number', nullable: true })
  limit: number | null;
  /** Spent in the current window (completed answers, plus sends still running at their worst case). */
  used: number;
  /** What is left; null: unlimited. */
  @ApiProperty({ type: 'number', nullable: true })
  remaining: number | null;
  /** ISO 8601 time the window ends and the count starts again. */
  resets_at: string;
}

/** `GET /v1/users/me/limits`: the caller's tier and each of its limits with what is used and left. */
export class LimitsReportDto {
  tier: string;
  limits: LimitStateDto[];
  /** Model ids or aliases (a trailing `*` matches a prefix) the caller may use; null: any model. */
  @ApiProperty({ type: [String], nullable: true })
  allowed_models: string[] | null;
  /** Most output tokens one answer may ask for; null: the model's own maximum. */
  @ApiProperty({ type: 'integer', nullable: true })
  max_output_tokens: number | null;
}
