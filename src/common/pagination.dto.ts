import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { toInt } from './integer-transform';

/**
 * Highest page number a list accepts: `MAX_ID / 100`, so the offset `(page - 1) × page_size` stays below the largest
 * id at the largest page size and no page starts past the last row that could exist. Written as a literal so the
 * OpenAPI document shows it.
 */
export const MAX_PAGE = 21_474_836;

/** `page` (from 1) and `page_size` (1..100) query parameters (API.md "Conventions"). */
export class PageQueryDto {
  /** Page number, from 1. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(MAX_PAGE)
  page: number = 1;

  /** Items per page, 1..100. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100)
  page_size: number = 20;
}

/** The counts every page answer carries: `{ total, page, page_size }`, with the items beside them. */
export abstract class PageMetaDto {
  /** Items across all pages. */
  @ApiProperty({ type: 'integer' }) total: number;
  /** This page's number, from 1. */
  @ApiProperty({ type: 'integer' }) page: number;
  @ApiProperty({ type: 'integer' }) page_size: number;
}
