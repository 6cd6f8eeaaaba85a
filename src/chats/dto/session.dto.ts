import { ApiProperty } from '@nestjs/swagger';
import { SessionMatchDto } from '../../search/dto/search.dto';
import { ChatSessionEntity } from '../chat-session.entity';

/** Where a forked session came from. */
export class ForkOriginDto {
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** The origin's message the fork ends with. */
  @ApiProperty({ type: 'integer', nullable: true }) message_id: number | null;
}

/** A chat session as clients see it (API.md "GET /v1/chat/sessions/{id}"). */
export class SessionDto {
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ type: 'integer' }) user_id: number;
  /** The application whose API key created the session, if any (as documented). */
  @ApiProperty({ type: 'integer', nullable: true }) application_id: number | null;
  /** Registry id of the model that answers next, e.g. `openai/gpt-4o-mini`. */
  model: string;
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  @ApiProperty({ type: String, nullable: true }) system_prompt: string | null;
  /** Rolling summary of older messages (summary_window mode); null until one is made. */
  @ApiProperty({ type: String, nullable: true }) summary: string | null;
  @ApiProperty({ type: 'integer' }) message_count: number;
  /** Input tokens summed over every answer in this session. */
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** USD, summed over every answer in this session. */
  cost: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  /** Set when the session was soft-deleted (`DELETE ?soft=true`); restore with `POST …/restore`. */
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) archived_at: string | null;
  /** The prompt the session was started from (its rendering is the system prompt); null when none or deleted. */
  @ApiProperty({ type: 'integer', nullable: true }) prompt_id: number | null;
  /** That prompt's version at the time. */
  @ApiProperty({ type: 'integer', nullable: true }) prompt_version: number | null;
  /**
   * The newest message of the active branch: what is listed, sent to the model and appended to (switch with
   * `PUT …/active-leaf`); null while the session has no message.
   */
  @ApiProperty({ type: 'integer', nullable: true }) active_leaf_id: number | null;
  /** For a fork: the session and message it was forked from (`session_id` null once the origin is deleted). */
  @ApiProperty({ type: ForkOriginDto, nullable: true }) forked_from: ForkOriginDto | null;

  static from(s: ChatSessionEntity): SessionDto {
    return {
      id: s.id,
      user_id: s.userId,
      application_id: s.applicationId,
      model: s.model,
      title: s.title,
      system_prompt: s.systemPrompt,
      summary: s.summary,
      message_count: s.messageCount,
      tokens_input: s.tokensInput,
      tokens_output: s.tokensOutput,
      cost: s.cost,
      metadata: s.metadata,
      created_at: s.createdAt.toISOString(),
      updated_at: s.updatedAt.toISOString(),
      archived_at: s.archivedAt?.toISOString() ?? null,
      prompt_id: s.promptId,
      prompt_version: s.promptVersion,
      active_leaf_id: s.activeLeafId,
      forked_from:
        s.forkedFromSessionId === null ? null : { session_id: s.forkedFromSessionId, message_id: s.forkedFromMessageId },
    };
  }
}

/**
 * What both session lists answer beside their sessions: the API guide's `{ total, page, page_size }` and the cursor
 * of the next page.
 */
export abstract class SessionListMetaDto {
  /** Sessions across all pages. */
  @ApiProperty({ type: 'integer' }) total: number;
  /** This page's number, from 1; null when the page was asked for by `cursor`. */
  @ApiProperty({ type: 'integer', nullable: true }) page: number | null;
  @ApiProperty({ type: 'integer' }) page_size: number;
  /** Pass as `cursor` (with the same filters) for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}

/** A session in a list; with `search`, how it matched. */
export class SessionListItemDto extends SessionDto {
  /** Only when the list was asked for with `search`. */
  match?: SessionMatchDto;
}

/** A page of sessions, without their messages. */
export class SessionPageDto extends SessionListMetaDto {
  items: SessionListItemDto[];
}

/** A message as the API guide's history and switch-model answers show it. */
export class TurnDto {
  /** `system`, `user` or `assistant`. */
  role: string;
  content: string;
}

/** One session in the API guide's `GET /v1/chat/history`, with its messages oldest first. */
export class HistorySessionDto {
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ type: 'integer' }) user_id: number;
  @ApiProperty({ type: 'integer', nullable: true }) application_id: number | null;
  model: string;
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  messages: TurnDto[];
  created_at: string;
  updated_at: string;
  /** Only when the history was asked for with `search`: how the session matched. */
  match?: SessionMatchDto;
}

/**
 * The API guide's history page: `{ total, page, page_size, sessions }`, newest `updated_at` first (best match first
 * with `search`), and `next_cursor`.
 */
export class HistoryPageDto extends SessionListMetaDto {
  sessions: HistorySessionDto[];
}

/** The API guide's switch-model answer. */
export class SwitchModelResultDto {
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** The registry id now used by the session. */
  model: string;
  /** The whole history, kept as it was. */
  messages: TurnDto[];
  @ApiProperty({ type: String, nullable: true }) title: string | null;
}

/** `{ "message": "Session deleted successfully" }` (as documented). */
export class DeletedDto {
  message: string;
}
