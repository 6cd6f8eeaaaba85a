import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_ID } from '../../common/parse-id.pipe';
import { MESSAGE_ROLES, MessageRole } from '../message.entity';
import {
  ContentPartInput,
  contentSchema,
  ImagePartInputDto,
  ImageUrlPartInputDto,
  IsContentParts,
  IsToolCallId,
  IsToolChoice,
  IsTools,
  TextPartInputDto,
  TOOL_CHOICE_SCHEMA,
  ToolCallInputDto,
  ToolCallPartInputDto,
  ToolChoiceInput,
  ToolInputDto,
} from './content-parts.dto';

/** One message of a request: `{ role, content }`, plus `tool_call_id` (tool results) or `tool_calls` (answers). */
export class ChatMessageInputDto {
  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' })
  @IsIn(MESSAGE_ROLES)
  role: MessageRole;

  @ApiProperty({
    ...contentSchema(
      [TextPartInputDto, ImagePartInputDto, ImageUrlPartInputDto, ToolCallPartInputDto],
      'The text, or parts: `text`, `image` / `image_url` (user messages), `tool_call` (assistant messages). A user ' +
        'message whose text is longer than `MAX_INPUT_LENGTH` characters (default 10,000) is refused with 422. ' +
        'May be left out (or null) on an assistant message that has tool calls.',
    ),
    required: false,
  })
  @IsOptional() @IsContentParts()
  content?: string | ContentPartInput[];

  /** `tool` messages: the id of the tool call this is the result of (a call of an earlier assistant message). */
  @IsOptional() @IsToolCallId()
  tool_call_id?: string;

  /** Assistant messages: their tool calls in OpenAI's form (the same as `tool_call` parts). */
  @IsOptional() @IsArray() @ArrayMaxSize(1000) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => ToolCallInputDto)
  tool_calls?: ToolCallInputDto[];
}

export const STREAM_FORMATS = ['data', 'events'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

/** Body of the documented `POST /v1/chat/stream`. */
export class SendMessageDto {
  /**
   * Registry id or alias (e.g. `gpt-4`, `openai/gpt-4o-mini`, `fast`). The request's model wins: with `session_id`
   * it answers this turn and becomes the session's model (as `/v1/chat/switch-model` does, the history kept);
   * omitted, the session's model answers. A new session is created with it (default: the server's default model).
   */
  @IsOptional() @IsString() @MaxLength(200)
  model?: string;

  /**
   * The new turn, oldest first; the last message must be the user's, or a tool result (`tool`) answering a call
   * of the session's last answer or of an assistant message before it. Without `session_id` they start a new
   * session (a `system` message becomes its system prompt); with it they are appended to the stored history.
   */
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(1000) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => ChatMessageInputDto)
  messages: ChatMessageInputDto[];

  /** Sampling temperature, 0.0 to 2.0. */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2)
  temperature: number = 0.7;

  /** Most tokens to generate; at most the model's `max_output_tokens`. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  max_tokens?: number;

  /** `true` (default): Server-Sent Events; `false`: one JSON answer. */
  @IsOptional() @IsBoolean()
  stream: boolean = true;

  /** An existing session of the caller. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_ID)
  session_id?: number;

  /**
   * `true`: the answer runs to its end even when the client disconnects; it can be resumed
   * (`GET /v1/chat/messages/{id}/events`) or cancelled. With `stream: false` the answer is **202** at once with the
   * message and session ids. Default `false`: a disconnect stops the answer (stored `incomplete`).
   */
  @IsOptional() @IsBoolean()
  background?: boolean;

  /**
   * `data` (default): the documented plain `data: <piece>` events. `events`: typed events `start`, `delta`, `done`,
   * `error` with JSON payloads (also chosen by `Accept: text/event-stream; profile=events`).
   */
  @ApiProperty({ enum: STREAM_FORMATS, enumName: 'StreamFormat', required: false })
  @IsOptional() @IsIn(STREAM_FORMATS)
  stream_format?: StreamFormat;

  /**
   * Functions the model may call, in OpenAI's form (`{type: "function", function: {name, description, parameters}}`).
   * The model must have `supports_tools` (else 400). An answer that calls them ends with `finish_reason: "tool_calls"`.
   */
  @IsOptional() @IsTools()
  tools?: ToolInputDto[];

  /** `auto` (default with tools), `none`, `required`, or `{type: "function", function: {name}}` naming one of `tools`. */
  @ApiProperty({ ...TOOL_CHOICE_SCHEMA, required: false })
  @IsOptional() @IsToolChoice()
  tool_choice?: ToolChoiceInput;
}
