import { ApiProperty } from '@nestjs/swagger';
import { LimitOverridesDto } from '../common/limit-overrides.dto';

/** One counted limit of the caller, in its current window. */
export class LimitStateDto {
  @ApiProperty({ enum: ['tokens_per_minute', 'daily_tokens', 'daily_cost_usd', 'monthly_cost_usd'] })
  name: string;
  /** The window the limit counts in (UTC clock minute, day or calendar month). */
  @ApiProperty({ enum: ['minute', 'day', 'month'] })
  window: string;
  /** Tokens, or USD for the `*_cost_usd` limits: the tightest of tier, user and application; null: unlimited. */
  @ApiProperty({ type: 'number', nullable: true })
  limit: number | null;
  /** Where the limit in force was set: the tier, an override on the user, or one on the application; null: unlimited. */
  @ApiProperty({ enum: ['tier', 'user', 'application'], nullable: true })
  set_by: 'tier' | 'user' | 'application' | null;
  /**
   * Spent in the current window (completed answers, plus sends still running at their worst case): the user's, or
   * in an application's report what the application's API keys spent.
   */
  used: number;
  /** What is left (for an application: within the user's budget too); null: unlimited. */
  @ApiProperty({ type: 'number', nullable: true })
  remaining: number | null;
  /** ISO 8601 time the window ends and the count starts again. */
  resets_at: string;
}

/** `GET /v1/users/me/limits`: the caller's tier and each of its limits with what is used and left. */
export class LimitsReportDto {
  tier: string;
  /** Set in an application's report (`GET /v1/applications/{id}/limits`). */
  @ApiProperty({ type: 'integer', required: false })
  application_id?: number;
  limits: LimitStateDto[];
  /**
   * Model ids or aliases (a trailing `*` matches a prefix) the caller may use; null: any model. When several
   * levels (tier, user, application) have a list, the registry ids every list allows.
   */
  @ApiProperty({ type: [String], nullable: true })
  allowed_models: string[] | null;
  /** Most output tokens one answer may ask for (the tightest of tier, user and application); null: the model's own maximum. */
  @ApiProperty({ type: 'integer', nullable: true })
  max_output_tokens: number | null;
  /** The overrides set on the user (admin-set); null: none. */
  @ApiProperty({ type: LimitOverridesDto, nullable: true })
  user_overrides: LimitOverridesDto | null;
  /** In an application's report: the overrides set on the application; null: none. */
  @ApiProperty({ type: LimitOverridesDto, nullable: true, required: false })
  application_overrides?: LimitOverridesDto | null;
}
