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

/**
 * `event: tool_call_delta` and `event: tool_call` of a typed stream. `tool_call_delta`: a piece of a tool call as the
 * model streams it (`id` and `name` with its first piece only; `arguments` the next piece of its JSON text).
 * `tool_call`: the whole call, once the model has finished, before `done` (every field set).
 */
export class StreamToolCallEventDto {
  /** The call's position among the answer's calls, from 0. */
  @ApiProperty({ type: 'integer' }) index: number;
  /** Send it back as the `tool_call_id` of the `tool` message carrying the result. */
  id?: string;
  /** The function's name, one of the request's `tools`. */
  name?: string;
  /** The arguments as JSON text (a piece of it in `tool_call_delta`), as the model wrote them: check them before use. */
  arguments: string;
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
