import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { toInt } from '../../common/integer-transform';
import { MAX_ID } from '../../common/parse-id.pipe';

/** Query of `GET /v1/chat/sessions/{id}/messages`: keyset pagination, oldest first. */
export class ListMessagesQueryDto {
  /** Return messages after this message id (the previous page's `next_after_id`). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(MAX_ID)
  after_id?: number;

  /** Messages per page, 1..100. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100)
  page_size: number = 50;
}
