import { PageMetaDto } from '../common/pagination.dto';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { Type } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { LimitOverridesDto } from '../common/limit-overrides.dto';
import { IsTimestamp } from '../common/timestamp.validator';
import { NullClears } from '../common/nullable';
import { API_KEY_SCOPES, ApiKeyScope } from '../common/api-key-scopes';
import { ApiKeyEntity } from './api-key.entity';
import { ApplicationEntity } from './application.entity';

const Trim = () => Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

/** A new application. */
export class CreateApplicationDto {
  /** 1..100 characters. */
  @Trim() @IsString() @IsNotEmpty() @MaxLength(100)
  name: string;
}

/** Changes to an application. */
export class UpdateApplicationDto {
  /** 1..100 characters. */
  @IsOptional() @Trim() @IsString() @IsNotEmpty() @MaxLength(100)
  name?: string;

  /**
   * Budget overrides shared by the application's API keys (within its user's budget): each key sent replaces the
   * application's, a key sent as null removes it, and null removes them all.
   */
  @ApiProperty({ type: LimitOverridesDto, nullable: true, required: false })
  @NullClears() @IsObject() @ValidateNested() @Type(() => LimitOverridesDto)
  limits?: LimitOverridesDto | null;
}

/** A user's named client application; requests made with its API keys are stamped with its id. */
export class ApplicationDto {
  @ApiProperty({ type: 'integer' }) id: number;
  name: string;
  /** Budget overrides shared by its API keys (README "Budgets and quotas"); null: none. */
  @ApiProperty({ type: LimitOverridesDto, nullable: true })
  limits: LimitOverridesDto | null;
  created_at: Date;

  static from(app: ApplicationEntity): ApplicationDto {
    return { id: app.id, name: app.name, limits: app.limits ?? null, created_at: app.createdAt };
  }
}

/** One page of applications. */
export class ApplicationPageDto extends PageMetaDto {
  items: ApplicationDto[];
}

/** A new API key. */
export class CreateApiKeyDto {
  /** Up to 100 characters, to tell keys apart. */
  @IsOptional() @Trim() @IsString() @MaxLength(100)
  name?: string;

  /** What the key may do (default: every scope); a route outside them answers 403 naming the scope it needs. */
  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true, required: false })
  @IsOptional() @IsArray() @ArrayNotEmpty() @IsIn(API_KEY_SCOPES, { each: true })
  scopes?: ApiKeyScope[];

  /** ISO 8601 time after which the key no longer authenticates (401); default: never. Must be in the future. */
  @IsOptional() @IsTimestamp()
  expires_at?: string;
}

/** An API key as listed: never the key itself, only its visible prefix. */
export class ApiKeyDto {
  @ApiProperty({ type: 'integer' }) id: number;
  name: string | null;
  /** The first characters of the key (`ak_…`), to recognise it. */
  prefix: string;
  /** Updated at most once a minute. */
  last_used_at: Date | null;
  /** Set once the key is revoked; a revoked key no longer authenticates. */
  revoked_at: Date | null;
  /** What the key may do. */
  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true })
  scopes: ApiKeyScope[];
  /** After this the key no longer authenticates; null: never. */
  expires_at: Date | null;
  created_at: Date;

  static from(key: ApiKeyEntity): ApiKeyDto {
    return {
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      last_used_at: key.lastUsedAt,
      revoked_at: key.revokedAt,
      scopes: key.scopes ?? [...API_KEY_SCOPES],
      expires_at: key.expiresAt,
      created_at: key.createdAt,
    };
  }
}

/** A key just created. `key` is shown here only: it is stored hashed and cannot be recovered. */
export class CreatedApiKeyDto extends ApiKeyDto {
  /** `ak_` + 43 characters. Send it as `Authorization: Bearer <key>`; it acts as its user, within its scopes. */
  key: string;
}

/** One page of API keys. */
export class ApiKeyPageDto extends PageMetaDto {
  items: ApiKeyDto[];
}
