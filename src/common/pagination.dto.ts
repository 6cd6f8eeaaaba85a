import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** `page` (from 1) and `page_size` (1..100) query parameters (API.md "Conventions"). */
export class PageQueryDto {
  /** Page number, from 1. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  page: number = 1;

  /** Items per page, 1..100. */
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
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
