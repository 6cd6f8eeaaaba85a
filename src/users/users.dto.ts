import { NullClears } from '../common/nullable';
import { PageMetaDto } from '../common/pagination.dto';
import { ApiProperty } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsEmail, IsIn, IsObject, IsString, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { LimitOverridesDto } from '../common/limit-overrides.dto';
import { USER_ROLES, UserRole } from '../common/user-role';
import { UserEntity } from './user.entity';

/** Trims and lower-cases an email before it is validated (emails are stored in that form). */
export const NormalizeEmail = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value));

/** Trims a free-text name; an all-blank name becomes null. */
const TrimName = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() || null : value));

/** Present in the body, even as null (so `null` is validated, and rejected, instead of meaning "absent"). */
const IsPresent = () => ValidateIf((_: object, value: unknown) => value !== undefined);

/** A user's profile, as the user sees it. */
export class UserProfileDto {
  @ApiProperty({ type: 'integer' }) id: number;
  /** Lower-cased; null for an anonymous user. */
  email: string | null;
  display_name: string | null;
  @ApiProperty({ enum: USER_ROLES, enumName: 'UserRole' })
  role: UserRole;
  /** Rate-limit tier (a key of `rate_limits.tiers` in the configuration). */
  tier: string;
  /** True until an anonymous user claims an account with an email and password. */
  is_anonymous: boolean;
  created_at: Date;

  static from(user: UserEntity): UserProfileDto {
    return {
      id: user.id,
      email: user.email,
      display_name: user.displayName,
      role: user.role,
      tier: user.tier,
      is_anonymous: user.isAnonymous,
      created_at: user.createdAt,
    };
  }
}

/** A user as an admin sees it: the profile plus account state and running usage totals. */
export class AdminUserDto extends UserProfileDto {
  /** A disabled user cannot log in, refresh, or use existing tokens or API keys. */
  disabled: boolean;
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** In US dollars. */
  cost: number;
  /** Budget overrides set on the user (README "Budgets and quotas"); null: none. */
  @ApiProperty({ type: LimitOverridesDto, nullable: true })
  limits: LimitOverridesDto | null;
  updated_at: Date;

  static override from(user: UserEntity): AdminUserDto {
    return {
      ...UserProfileDto.from(user),
      disabled: user.disabled,
      tokens_input: user.tokensInput,
      tokens_output: user.tokensOutput,
      cost: user.cost,
      limits: user.limits ?? null,
      updated_at: user.updatedAt,
    };
  }
}

/** One page of users. */
export class UserPageDto extends PageMetaDto {
  items: AdminUserDto[];
}

/**
 * Changes to one's own profile. An anonymous user claims an account by sending `email` and `password` together
 * (its id and sessions are kept). A registered user changing `email` or `password` must send `current_password`.
 */
export class UpdateMeDto {
  /** 1..100 characters; null clears it. */
  @NullClears() @TrimName() @IsString() @MaxLength(100)
  display_name?: string | null;

  @IsPresent() @NormalizeEmail() @IsEmail() @MaxLength(320)
  email?: string;

  /** 8..128 characters. */
  @IsPresent() @IsString() @MinLength(8) @MaxLength(128)
  password?: string;

  /** Required to change `email` or `password` of a registered (non-anonymous) account. */
  @IsPresent() @IsString() @MaxLength(128)
  current_password?: string;
}

/** What an admin may change on a user: nothing else. */
export class AdminUpdateUserDto {
  @ApiProperty({ enum: USER_ROLES, enumName: 'UserRole', required: false })
  @IsPresent() @IsIn(USER_ROLES)
  role?: UserRole;

  /** A tier named in the configuration's `rate_limits.tiers`. */
  @IsPresent() @IsString() @MaxLength(32)
  tier?: string;

  /** Disabling a user stops its logins, refreshes, tokens and API keys at once. */
  @IsPresent() @IsBoolean()
  disabled?: boolean;

  /**
   * Budget overrides: each key sent replaces the user's, a key sent as null removes it, and null removes them all.
   * Each tightens the tier's limit (the tightest of tier, user and application applies).
   */
  @ApiProperty({ type: LimitOverridesDto, nullable: true, required: false })
  @NullClears() @IsObject() @ValidateNested() @Type(() => LimitOverridesDto)
  limits?: LimitOverridesDto | null;
}

/** Usage of one model, summed over assistant messages. */
export class ModelUsageDto {
  /** Registry id, e.g. `openai/gpt-4o-mini`. */
  model: string;
  @ApiProperty({ type: 'integer' }) messages: number;
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** In US dollars. */
  cost: number;
}

/** A user's usage: counts of sessions and messages, running token and cost totals, and usage by model. */
export class UserStatsDto {
  @ApiProperty({ type: 'integer' }) sessions: number;
  @ApiProperty({ type: 'integer' }) messages: number;
  /** Running total, kept when sessions are deleted. */
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** In US dollars. */
  cost: number;
  by_model: ModelUsageDto[];
}

/** Usage of the whole service. */
export class GlobalStatsDto extends UserStatsDto {
  @ApiProperty({ type: 'integer' }) users: number;
}
