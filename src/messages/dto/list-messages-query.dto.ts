import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateBy } from 'class-validator';
import { toInt } from '../../common/integer-transform';
import { MAX_PAGE } from '../../common/pagination.dto';
import { MAX_ID } from '../../common/parse-id.pipe';
import { STREAM_FORMATS, StreamFormat } from './send-message.dto';

/** Which messages of a session's tree a list returns. */
export const MESSAGE_BRANCHES = ['active', 'all'] as const;
export type MessageBranch = (typeof MESSAGE_BRANCHES)[number];

/**
 * Query of `GET /v1/chat/sessions/{id}/messages`, oldest first: by keyset (`after_id`, stable while messages are
 * added) or by page number (`page`), not both.
 */
export class ListMessagesQueryDto {
  /** Return messages after this message id (the previous page's `next_after_id`). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(MAX_ID)
  after_id?: number;

  /** Page number, from 1: the messages after `(page - 1) × page_size` older ones. Not together with `after_id`. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(MAX_PAGE)
  @ValidateBy({
    name: 'notWithAfterId',
    validator: {
      validate: (_: unknown, args) => (args?.object as ListMessagesQueryDto).after_id === undefined,
      defaultMessage: () => 'send page or after_id, not both: each says which page to return',
    },
  })
  page?: number;

  /** Messages per page, 1..100. */
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(100)
  page_size: number = 50;

  /**
   * `active` (default): the active branch, from the first message to the session's active leaf, what the model is
   * sent. `all`: every message of every branch, by id (a parent before its children); build the tree from
   * `parent_id`.
   */
  @ApiProperty({ enum: MESSAGE_BRANCHES, enumName: 'MessageBranch', required: false, default: 'active' })
  @IsOptional() @IsIn(MESSAGE_BRANCHES)
  branch: MessageBranch = 'active';
}

/** Query of `GET /v1/chat/messages/{id}/events`. */
export class ResumeQueryDto {
  /** Replay the events after this event id (what `Last-Event-ID` says; the header wins when both are sent). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(MAX_ID)
  after?: number;

  /** `data` (default) or `events`, as for `POST /v1/chat/stream` (also chosen by `Accept: …; profile=events`). */
  @ApiProperty({ enum: STREAM_FORMATS, enumName: 'StreamFormat', required: false })
  @IsOptional() @IsIn(STREAM_FORMATS)
  stream_format?: StreamFormat;
}
