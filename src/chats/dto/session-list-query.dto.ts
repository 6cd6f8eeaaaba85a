import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  isISO8601,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  registerDecorator,
  ValidationArguments,
} from 'class-validator';
import { toBool } from '../../common/boolean-transform';
import { toInt } from '../../common/integer-transform';
import { MAX_PAGE } from '../../common/pagination.dto';
import { MAX_ID } from '../../common/parse-id.pipe';
import { decodeCursor, MAX_CURSOR_LENGTH } from '../session-cursor';

/**
 * An ISO 8601 date or date-time that is a real day (no February 30) and that JavaScript reads too (the ISO forms
 * it does not, such as `T10Z` or a decimal comma, would reach the database as an invalid date).
 */
function IsInstant(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isInstant',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isISO8601(value, { strict: true }) && !Number.isNaN(Date.parse(value)),
        defaultMessage: (args: ValidationArguments) => `${args.property} must be an ISO 8601 date or date-time, e.g. 2024-01-01T00:00:00Z`,
      },
    });
}

/** Why a `cursor` can't be used with the rest of the query, if it can't. */
function cursorProblem(value: unknown, query: SessionListQueryDto): string | undefined {
  if (typeof value !== 'string') return 'cursor must be a string';
  if (query.page !== undefined) return 'send cursor or page, not both: each says which page to return';
  const decoded = decodeCursor(value, query);
  return 'problem' in decoded ? `cursor ${decoded.problem}` : undefined;
}

/** `cursor` must come from this list's `next_cursor`, for the same filters, and not together with `page`. */
function IsSessionListCursor(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isSessionListCursor',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown, args: ValidationArguments) => !cursorProblem(value, args.object),
        defaultMessage: (args: ValidationArguments) => cursorProblem(args.value, args.object) ?? '',
      },
    });
}

/**
 * The filters and paging both session lists take, `GET /v1/chat/sessions` and the API guide's `GET /v1/chat/history`
 * (each adds its `page_size` default). Pages are asked for by number (`page`) or by `cursor` (the previous answer's
 * `next_cursor`), not both; a cursor stays right while sessions are added, where page numbers shift.
 */
export class SessionListQueryDto {
  /**
   * Text to find: sessions whose title contains it (case-insensitive) or with a message matching it by full-text
   * search (web-search syntax: `"a phrase"`, `or`, `-word`; see `GET /v1/chat/search`). The list is then ordered
   * by rank, best first, and each session carries `match`.
   */
  @IsOptional() @IsString() @MaxLength(200)
  search?: string;

  /** Registry id or alias, e.g. `gpt-4`. */
  @IsOptional() @IsString() @MaxLength(200)
  model?: string;

  /** Only sessions created at or after this instant (ISO 8601). */
  @ApiProperty({ required: false, format: 'date-time' })
  @IsOptional() @IsInstant()
  start_date?: string;

  /** Only sessions created at or before this instant (ISO 8601). */
  @ApiProperty({ required: false, format: 'date-time' })
  @IsOptional() @IsInstant()
  end_date?: string;

  /** `true`: only archived (soft-deleted) sessions; default `false`: only active ones. */
  @IsOptional() @Transform(toBool) @IsBoolean()
  archived?: boolean;

  /** Only sessions created through this application's API keys. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(MAX_ID)
  application_id?: number;

  /** Page number, from 1 (default 1). Not together with `cursor`. */
  @ApiProperty({ type: 'integer', required: false, default: 1 })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(MAX_PAGE)
  page?: number;

  /** The previous page's `next_cursor`, with the same filters: the page after it. Not together with `page`. */
  @IsOptional() @IsString() @MaxLength(MAX_CURSOR_LENGTH) @IsSessionListCursor()
  cursor?: string;
}

/** Query of `GET /v1/chat/sessions`. */
export class ListSessionsQueryDto extends SessionListQueryDto {
  /** Sessions per page, 1..100. */
  @ApiProperty({ type: 'integer', required: false, default: 20 })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100)
  page_size: number = 20;
}

/** Query of the API guide's `GET /v1/chat/history`. */
export class HistoryQueryDto extends SessionListQueryDto {
  /** Sessions per page, 1..100 (default 10, as documented). */
  @ApiProperty({ type: 'integer', required: false, default: 10 })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100)
  page_size: number = 10;
}
