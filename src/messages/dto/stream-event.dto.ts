import { ApiProperty } from '@nestjs/swagger';
import { ANSWER_FINISH_REASONS, UsageDto } from './chat-completion.dto';

/** `event: start` of a typed stream: which session, message and model the answer belongs to. */
export class StreamStartEventDto {
  @ApiProperty({ type: 'integer', format: 'int32' }) session_id: number;
  /** Id of the stored assistant message being written. */
  @ApiProperty({ type: 'integer', format: 'int32' }) message_id: number;
  /** Registry id of the model answering (a fallback when the requested one failed before its first piece). */
  model: string;
}

/** `event: delta` of a typed stream: the next piece of the answer's text. */
export class StreamDeltaEventDto {
  text: string;
}

/** `event: done` of a typed stream: the answer is stored; how it ended and what it cost. */
export class StreamDoneEventDto {
  @ApiProperty({ type: 'integer', format: 'int32' }) message_id: number;
  /** Registry id of the model that answered. */
  model: string;
  @ApiProperty({ enum: ANSWER_FINISH_REASONS, enumName: 'FinishReason' }) finish_reason: string;
  usage: UsageDto;
  /** USD. */
  cost: number;
  /** The session's title; null while a model is still titling the session in the background. */
  @ApiProperty({ type: String, nullable: true }) title: string | null;
}
