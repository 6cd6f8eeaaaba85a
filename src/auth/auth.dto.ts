import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsNotEmpty, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { PageMetaDto } from '../common/pagination.dto';
import { NormalizeEmail, UserProfileDto } from '../users/users.dto';

/** A new account. Unknown fields (`role`, `tier`, …) are rejected with 422. */
export class RegisterDto {
  /** Trimmed and lower-cased before it is stored. */
  @NormalizeEmail() @IsEmail() @MaxLength(320)
  email: string;

  /** 8..128 characters. */
  @IsString() @MinLength(8) @MaxLength(128)
  password: string;

  /** Up to 100 characters. */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() || null : value))
  @IsString() @MaxLength(100)
  display_name?: string | null;
}

/** Email and password of an existing account. */
export class LoginDto {
  /** Matched case-insensitively. */
  @NormalizeEmail() @IsString() @IsNotEmpty() @MaxLength(320)
  email: string;

  @IsString() @IsNotEmpty() @MaxLength(128)
  password: string;
}

/** A refresh token, as returned by register, login, anonymous or refresh. */
export class RefreshTokenDto {
  @IsString() @IsNotEmpty() @MaxLength(256)
  refresh_token: string;
}

/** An access token and the refresh token that renews it, with the user they belong to. */
export class AuthTokensDto {
  /** A JWT for `Authorization: Bearer …`, valid for `expires_in` seconds. */
  access_token: string;
  /** Opaque and single-use: exchange it at `POST /v1/auth/refresh` for a new pair. */
  refresh_token: string;
  @ApiProperty({ enum: ['bearer'] })
  token_type: 'bearer';
  /** Seconds until the access token expires. */
  @ApiProperty({ type: 'integer' }) expires_in: number;
  user: UserProfileDto;
}

/** One login session: a login (or registration, or anonymous start) and the refresh tokens that followed it. */
export class LoginSessionDto {
  /** The session's id; access tokens carry it as their `sid` claim. */
  @ApiProperty({ format: 'uuid' })
  id: string;
  /** When the login happened. */
  created_at: Date;
  /** When the session last got tokens (the login, or its latest refresh). */
  last_used_at: Date;
  /** `User-Agent` of that latest request, if it sent one. */
  user_agent: string | null;
  /** Client address of that latest request, as the server saw it (behind a proxy: per `TRUST_PROXY`). */
  ip: string | null;
  /** True for the session of the access token making this request. */
  current: boolean;
}

/** One page of the caller's live login sessions, the most recently used first. */
export class LoginSessionPageDto extends PageMetaDto {
  items: LoginSessionDto[];
}
