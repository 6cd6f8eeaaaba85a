import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsInt, IsNumber, IsString, Max, MaxLength, Min } from 'class-validator';
import type { BudgetLimits } from '../config/file-config';
import { NullClears } from './nullable';

/** Largest token count an override takes (beyond any real budget, within exact integer arithmetic). */
const MAX_TOKENS = 1e15;
/** Largest USD amount an override takes. */
const MAX_USD = 1e9;

/**
 * Budget overrides on a user (set by an admin) or on an application (set by its owner or an admin). Each key set
 * tightens the same limit of the tier (and, for an application, of its user): the effective limit is the tightest
 * of tier, user and application, so an override can lower a limit, never raise it. In a PATCH, a key left out is
 * kept, a key sent as `null` is removed, and `"limits": null` removes every override.
 */
export class LimitOverridesDto {
  /** Input + output tokens per UTC clock minute. */
  @ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 1 })
  @NullClears() @IsInt() @Min(1) @Max(MAX_TOKENS)
  tokens_per_minute?: number | null;

  /** USD per UTC day, at the registry's prices. */
  @ApiProperty({ type: 'number', nullable: true, required: false, minimum: 0 })
  @NullClears() @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 8 }) @Min(0) @Max(MAX_USD)
  daily_cost_usd?: number | null;

  /** USD per UTC calendar month. */
  @ApiProperty({ type: 'number', nullable: true, required: false, minimum: 0 })
  @NullClears() @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 8 }) @Min(0) @Max(MAX_USD)
  monthly_cost_usd?: number | null;

  /** Input + output tokens per UTC day. */
  @ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 1 })
  @NullClears() @IsInt() @Min(1) @Max(MAX_TOKENS)
  daily_tokens?: number | null;

  /**
   * Model ids or aliases (a trailing `*` matches a prefix); a model must be allowed by every list that applies
   * (tier, user, application).
   */
  @ApiProperty({ type: [String], nullable: true, required: false })
  @NullClears() @IsArray() @ArrayMaxSize(200) @IsString({ each: true }) @MaxLength(200, { each: true })
  allowed_models?: string[] | null;

  /** Most output tokens one answer may ask for (a send asking for more is refused with 422). */
  @ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 1 })
  @NullClears() @IsInt() @Min(1) @Max(MAX_TOKENS)
  max_output_tokens?: number | null;
}

/**
 * Applies a PATCH of overrides to the stored ones: keys sent replace, keys sent as null go, `patch` null clears all.
 * @returns the overrides to store; null when none is left
 */
export function mergeLimitOverrides(current: BudgetLimits | null, patch: LimitOverridesDto | null): BudgetLimits | null {
  if (patch === null) return null;
  const merged: Record<string, unknown> = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return Object.keys(merged).length ? (merged) : null;
}
