import { ApiProperty, OmitType } from '@nestjs/swagger';
import { IsDefined, IsInt, Max, Min } from 'class-validator';
import { MAX_ID } from '../../common/parse-id.pipe';
import { ContentPartInput, contentSchema, ImagePartInputDto, ImageUrlPartInputDto, IsContentParts, TextPartInputDto } from './content-parts.dto';
import { SendMessageDto } from './send-message.dto';

/**
 * Body of `POST /v1/chat/messages/{id}/regenerate`: the options of a send (`model`, `stream`, `stream_format`,
 * `background`, `temperature`, `max_tokens`, `tools`, `tool_choice`), all optional. `model` answers this time and
 * becomes the session's model, as on a send; omitted, the session's model answers.
 */
export class RegenerateMessageDto extends OmitType(SendMessageDto, ['messages', 'session_id'] as const) {}

/** Body of `POST /v1/chat/messages/{id}/edit`: the new question, and the options of a send. */
export class EditMessageDto extends RegenerateMessageDto {
  @ApiProperty(
    contentSchema(
      [TextPartInputDto, ImagePartInputDto, ImageUrlPartInputDto],
      'The new version of the question: its text, or parts (`text`, `image` / `image_url`).',
    ),
  )
  @IsDefined() @IsContentParts()
  content: string | ContentPartInput[];
}

/** Body of `PUT /v1/chat/sessions/{id}/active-leaf`. */
export class SetActiveLeafDto {
  /**
   * A message of the session. Its branch becomes the active one; when it has replies, the branch goes on to the
   * newest message under it (its newest leaf).
   */
  @ApiProperty({ type: 'integer' })
  @IsInt() @Min(1) @Max(MAX_ID)
  message_id: number;
}

/** Body of `POST /v1/chat/sessions/{id}/fork`. */
export class ForkSessionDto {
  /** The last message the new session holds: it gets the branch from the first message up to this one. */
  @ApiProperty({ type: 'integer' })
  @IsInt() @Min(1) @Max(MAX_ID)
  message_id: number;
}
