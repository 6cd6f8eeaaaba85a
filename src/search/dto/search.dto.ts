import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { toBool } from '../../common/boolean-transform';
import { PageMetaDto, PageQueryDto } from '../../common/pagination.dto';

/** Query of `GET /v1/chat/search`. */
export class SearchQueryDto extends PageQueryDto {
  /**
   * Words to find in my messages, in web-search syntax (PostgreSQL `websearch_to_tsquery`): plain words must all
   * occur (in any form the configured language stems to the same word), `"a phrase"` in that order, `or` between
   * alternatives, `-word` excludes. Any text is accepted; one with nothing to look for (only stop words such as
   * "the", or only excluded words) finds nothing.
   */
  @IsString() @MinLength(1) @MaxLength(200)
  q: string;

  /** `true`: search archived (soft-deleted) sessions; default `false`: active ones. */
  @IsOptional() @Transform(toBool) @IsBoolean()
  archived?: boolean;
}

/** One matching message. */
export class SearchHitDto {
  @ApiProperty({ type: 'integer' }) session_id: number;
  @ApiProperty({ type: String, nullable: true }) session_title: string | null;
  @ApiProperty({ type: 'integer' }) message_id: number;
  /** `system`, `user`, `assistant` or `tool`. */
  role: string;
  /**
   * The message's matching passages as an HTML fragment, safe to insert as it is: the text escaped, each matched
   * word in `<mark>…</mark>`, passages joined with " … ".
   */
  snippet: string;
  /** Full-text rank (PostgreSQL `ts_rank`): higher is better; a word that occurs more often ranks higher. */
  rank: number;
  /** When the message was stored. */
  created_at: string;
}

/** A page of search hits, best first (then newest first). */
export class SearchPageDto extends PageMetaDto {
  items: SearchHitDto[];
}

/** How a session of a list asked with `search` matched it. */
export class SessionMatchDto {
  /**
   * Higher is better: 1 when the title contains the search text, plus the full-text rank (PostgreSQL `ts_rank`) of
   * the session's best matching message.
   */
  rank: number;
  /** The title contains the search text (case-insensitive substring). */
  title: boolean;
  /** Messages of the session that match the search text. */
  @ApiProperty({ type: 'integer' }) message_count: number;
  /** The best matching messages' ids, best first (at most `search.message_ids_per_session` of them). */
  @ApiProperty({ type: 'integer', isArray: true }) message_ids: number[];
  /**
   * The best matching message's passages as an HTML fragment (text escaped, matches in `<mark>…</mark>`); null when
   * only the title matched.
   */
  @ApiProperty({ type: String, nullable: true }) snippet: string | null;
}
