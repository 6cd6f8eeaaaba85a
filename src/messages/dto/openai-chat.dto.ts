import { ApiHideProperty, ApiProperty } from '@nestjs/swagger';
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
  ValidateBy,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';
import { MaxJsonSize } from '../../common/max-json-size.validator';
import {
  ContentPartInput,
  contentSchema,
  ImageUrlPartInputDto,
  IsContentParts,
  IsToolCallId,
  IsToolChoice,
  IsTools,
  TextPartInputDto,
  TOOL_CHOICE_SCHEMA,
  ToolCallInputDto,
  ToolChoiceInput,
  ToolInputDto,
} from './content-parts.dto';

/**
 * The request and answer objects of `POST /v1/chat/completions`, as OpenAI's API reference defines them
 * ("Create chat completion", "The chat completion object", "The chat completion chunk object"). Fields of that API
 * this server does not implement are refused with a 400 naming them, never ignored.
 */

/** Roles a message may have: OpenAI's `developer` is a system message. Function messages are refused. */
export const OPENAI_MESSAGE_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type OpenAiMessageRole = (typeof OPENAI_MESSAGE_ROLES)[number];

/**
 * A field of OpenAI's API this server does not implement: absent, null, or the value that changes nothing
 * (`neutral`, e.g. `n: 1`); anything else fails validation with a message naming the field.
 */
function NotSupported(neutral: (value: unknown) => boolean = () => false, hint = ''): PropertyDecorator {
  return ValidateBy({
    name: 'notSupported',
    validator: {
      validate: (value: unknown) => value === undefined || value === null || neutral(value),
      defaultMessage: (args?: ValidationArguments) => `${args?.property} is not supported by this server${hint}`,
    },
  });
}

/** `stop`: a string or an array of 1 to 4 non-empty strings (OpenAI's limit). */
function IsStopSequences(): PropertyDecorator {
  const ok = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 500;
  return ValidateBy({
    name: 'isStopSequences',
    validator: {
      validate: (value: unknown) => ok(value) || (Array.isArray(value) && value.length >= 1 && value.length <= 4 && value.every(ok)),
      defaultMessage: () => 'stop must be a non-empty string or an array of 1 to 4 of them (at most 500 characters each)',
    },
  });
}

/**
 * `stream_options`: an object whose only field is `include_usage` (a boolean). Checked as a plain value, not as a
 * nested DTO, so a huge array in its place is refused at once instead of being turned into one object per item.
 */
function IsStreamOptions(): PropertyDecorator {
  const problem = (value: unknown): string | undefined => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object';
    const extra = Object.keys(value).filter((k) => k !== 'include_usage');
    if (extra.length) return `${extra.join(', ')} is not supported by this server`;
    const include = (value as { include_usage?: unknown }).include_usage;
    return include === undefined || include === null || typeof include === 'boolean' ? undefined : 'include_usage must be a boolean';
  };
  return ValidateBy({
    name: 'isStreamOptions',
    validator: {
      validate: (value: unknown) => problem(value) === undefined,
      defaultMessage: (args?: ValidationArguments) => `stream_options ${problem(args?.value) ?? 'is invalid'}`,
    },
  });
}

/** One message of `messages`. */
export class OpenAiChatMessageDto {
  /** `system` and `developer` messages become the system prompt; `function` messages are not supported. */
  @ApiProperty({ enum: OPENAI_MESSAGE_ROLES, enumName: 'OpenAiMessageRole' })
  @IsIn(OPENAI_MESSAGE_ROLES, { message: 'role must be one of system, developer, user, assistant, tool (function messages are not supported by this server)' })
  role: OpenAiMessageRole;

  @ApiProperty({
    ...contentSchema(
      [TextPartInputDto, ImageUrlPartInputDto],
      'The text, or parts: `text`, and `image_url` (user messages); audio and file parts are not supported. ' +
        'Null or left out on an assistant message with `tool_calls`.',
    ),
    required: false,
  })
  @IsOptional() @IsContentParts()
  content?: string | ContentPartInput[];

  /** `tool` messages: the id of the tool call this is the result of. */
  @IsOptional() @IsToolCallId()
  tool_call_id?: string;

  /** Assistant messages: the tool calls the model made. */
  @IsOptional() @IsArray() @ArrayMaxSize(1000) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => ToolCallInputDto)
  tool_calls?: ToolCallInputDto[];

  @ApiHideProperty() @NotSupported() name?: unknown;
  @ApiHideProperty() @NotSupported() function_call?: unknown;
  @ApiHideProperty() @NotSupported() audio?: unknown;
  @ApiHideProperty() @NotSupported() refusal?: unknown;
}

/** Options of a streamed answer. */
export class OpenAiStreamOptionsDto {
  /** `true`: a last chunk before `[DONE]` carries `usage` (with empty `choices`); the other chunks carry `usage: null`. */
  include_usage?: boolean;
}

/** Body of `POST /v1/chat/completions` (OpenAI's "Create chat completion"). */
export class OpenAiChatCompletionRequestDto {
  /** Registry id or alias (see `GET /v1/models`), e.g. `gpt-4o-mini` or `openai/gpt-4o-mini`. */
  @IsString() @MaxLength(200)
  model: string;

  /**
   * The conversation, oldest first; the last message must be the user's, or a tool result (`tool`). Stateless: it
   * is the whole context.
   */
  @IsArray() @ArrayMinSize(1) @ArrayMaxSize(1000) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => OpenAiChatMessageDto)
  messages: OpenAiChatMessageDto[];

  /** `true`: `text/event-stream` of `chat.completion.chunk` objects, then `data: [DONE]`. Default `false`. */
  @IsOptional() @IsBoolean()
  stream?: boolean;

  /** Only with `stream: true`. */
  @ApiProperty({ type: () => OpenAiStreamOptionsDto, required: false })
  @IsOptional() @IsStreamOptions()
  stream_options?: OpenAiStreamOptionsDto;

  /** Sampling temperature, 0 to 2. */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2)
  temperature?: number;

  /** Nucleus sampling: the probability mass of tokens considered, 0 to 1. */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1)
  top_p?: number;

  /** Most tokens to generate (deprecated by OpenAI in favour of `max_completion_tokens`, still accepted). */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  max_tokens?: number;

  /** Most tokens to generate; at most the model's `max_output_tokens`. Wins over `max_tokens`. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000)
  max_completion_tokens?: number;

  /** Up to 4 sequences where the answer stops (not included in the text). */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }], required: false })
  @IsOptional() @IsStopSequences()
  stop?: string | string[];

  /** An id of your end user; kept as the stored session's `metadata.user` (with `store: true`). */
  @IsOptional() @IsString() @MaxLength(256)
  user?: string;

  /** Free-form JSON object (at most 16 KiB serialised) kept as the stored session's metadata (with `store: true`). */
  @IsOptional() @IsObject() @MaxJsonSize(16_384)
  metadata?: Record<string, unknown>;

  /**
   * `true`: the exchange is kept as a session of the caller (in `/v1/chat/history`, with `metadata`); its id is in
   * `X-Session-Id`. Default `false`: nothing is stored but the usage.
   */
  @IsOptional() @IsBoolean()
  store?: boolean;

  @ApiHideProperty() @NotSupported((v) => v === 1, ' (only n: 1)') n?: unknown;
  @ApiHideProperty() @NotSupported((v) => v === false) logprobs?: unknown;
  @ApiHideProperty() @NotSupported() top_logprobs?: unknown;
  /**
   * Functions the model may call (`{type: "function", function: {name, description, parameters}}`); the model
   * must support tools (`supports_tools` in `GET /v1/models`), else 400.
   */
  @IsOptional() @IsTools()
  tools?: ToolInputDto[];

  /** `auto` (default with tools), `none`, `required`, or `{type: "function", function: {name}}` naming one of `tools`. */
  @ApiProperty({ ...TOOL_CHOICE_SCHEMA, required: false })
  @IsOptional() @IsToolChoice()
  tool_choice?: ToolChoiceInput;

  /** Only `true` (the default): the model may call several tools in one answer. */
  @ApiHideProperty() @NotSupported((v) => v === true, ' (only true)') parallel_tool_calls?: unknown;
  @ApiHideProperty() @NotSupported() functions?: unknown;
  @ApiHideProperty() @NotSupported() function_call?: unknown;
  @ApiHideProperty() @NotSupported((v) => (v as { type?: unknown })?.type === 'text', ' (only {"type":"text"})') response_format?: unknown;
  @ApiHideProperty() @NotSupported() seed?: unknown;
  @ApiHideProperty() @NotSupported((v) => v === 0) presence_penalty?: unknown;
  @ApiHideProperty() @NotSupported((v) => v === 0) frequency_penalty?: unknown;
  @ApiHideProperty() @NotSupported() logit_bias?: unknown;
  @ApiHideProperty() @NotSupported((v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', ' (only ["text"])') modalities?: unknown;
  @ApiHideProperty() @NotSupported() audio?: unknown;
  @ApiHideProperty() @NotSupported() prediction?: unknown;
  @ApiHideProperty() @NotSupported() reasoning_effort?: unknown;
  @ApiHideProperty() @NotSupported() verbosity?: unknown;
  @ApiHideProperty() @NotSupported() service_tier?: unknown;
  @ApiHideProperty() @NotSupported() web_search_options?: unknown;
  @ApiHideProperty() @NotSupported() prompt_cache_key?: unknown;
  @ApiHideProperty() @NotSupported() safety_identifier?: unknown;
}

/** Of `prompt_tokens`, those served from the provider's prompt cache. */
export class OpenAiPromptTokensDetailsDto {
  @ApiProperty({ type: 'integer' }) cached_tokens: number;
}

/** Of `completion_tokens`, those spent on hidden reasoning. */
export class OpenAiCompletionTokensDetailsDto {
  @ApiProperty({ type: 'integer' }) reasoning_tokens: number;
}

/** Token counts as the provider reported them (or a tokenizer's estimate when it reported none). */
export class OpenAiUsageDto {
  @ApiProperty({ type: 'integer' }) prompt_tokens: number;
  @ApiProperty({ type: 'integer' }) completion_tokens: number;
  @ApiProperty({ type: 'integer' }) total_tokens: number;
  prompt_tokens_details: OpenAiPromptTokensDetailsDto;
  completion_tokens_details: OpenAiCompletionTokensDetailsDto;
}

/** Why the answer ended, in OpenAI's values (an answer stopped by a cancel reads `stop`). */
export const OPENAI_FINISH_REASONS = ['stop', 'length', 'content_filter', 'tool_calls'] as const;
export type OpenAiFinishReason = (typeof OPENAI_FINISH_REASONS)[number];

/** The function of a tool call in an answer. */
export class OpenAiFunctionCallDto {
  name: string;
  /** JSON text, as the model wrote it (check it before use). */
  arguments: string;
}

/** A tool call the model made; answer it with a `tool` message whose `tool_call_id` is `id`. */
export class OpenAiToolCallDto {
  id: string;
  @ApiProperty({ enum: ['function'] }) type: 'function';
  function: OpenAiFunctionCallDto;
}

/** The answer's message. */
export class OpenAiAssistantMessageDto {
  @ApiProperty({ enum: ['assistant'] }) role: 'assistant';
  /** The text; null when the answer is only tool calls. */
  @ApiProperty({ type: String, nullable: true }) content: string | null;
  /** Always null. */
  @ApiProperty({ type: String, nullable: true }) refusal: null;
  /** The tool calls of the answer (`finish_reason: "tool_calls"`); absent when it made none. */
  tool_calls?: OpenAiToolCallDto[];
}

/** The one choice of an answer. */
export class OpenAiChoiceDto {
  /** Always 0. */
  @ApiProperty({ type: 'integer' }) index: number;
  message: OpenAiAssistantMessageDto;
  @ApiProperty({ enum: OPENAI_FINISH_REASONS, enumName: 'OpenAiFinishReason' }) finish_reason: OpenAiFinishReason;
  /** Always null. */
  @ApiProperty({ type: Object, nullable: true }) logprobs: null;
}

/** Answer of `POST /v1/chat/completions` without `stream` (OpenAI's "chat completion object"). */
export class OpenAiChatCompletionDto {
  /** `chatcmpl-…` */
  id: string;
  @ApiProperty({ enum: ['chat.completion'] }) object: 'chat.completion';
  /** Unix time (seconds) the answer was started. */
  @ApiProperty({ type: 'integer', format: 'int64' }) created: number;
  /** Registry id of the model that answered (a fallback when the requested one failed). */
  model: string;
  choices: OpenAiChoiceDto[];
  usage: OpenAiUsageDto;
}

/** A piece of a tool call's function: the name with the call's first piece, then pieces of the arguments. */
export class OpenAiFunctionCallDeltaDto {
  name?: string;
  arguments?: string;
}

/** A piece of a tool call: `id`, `type` and the function's name come with its first piece. */
export class OpenAiToolCallDeltaDto {
  /** The call's position in the answer, from 0. */
  @ApiProperty({ type: 'integer' }) index: number;
  id?: string;
  @ApiProperty({ enum: ['function'], required: false }) type?: 'function';
  function: OpenAiFunctionCallDeltaDto;
}

/** A piece of the answer: the first chunk carries the role, later ones text or tool-call pieces; the finish chunk is empty. */
export class OpenAiChunkDeltaDto {
  @ApiProperty({ enum: ['assistant'], required: false }) role?: 'assistant';
  @ApiProperty({ type: String, nullable: true, required: false }) content?: string | null;
  tool_calls?: OpenAiToolCallDeltaDto[];
}

/** The one choice of a chunk. */
export class OpenAiChunkChoiceDto {
  @ApiProperty({ type: 'integer' }) index: number;
  delta: OpenAiChunkDeltaDto;
  /** Set on the last chunk with a choice. */
  @ApiProperty({ enum: OPENAI_FINISH_REASONS, enumName: 'OpenAiFinishReason', nullable: true }) finish_reason: OpenAiFinishReason | null;
  @ApiProperty({ type: Object, nullable: true }) logprobs: null;
}

/** One `data:` event of a streamed answer (OpenAI's "chat completion chunk object"). */
export class OpenAiChatCompletionChunkDto {
  /** The same for every chunk of an answer. */
  id: string;
  @ApiProperty({ enum: ['chat.completion.chunk'] }) object: 'chat.completion.chunk';
  @ApiProperty({ type: 'integer', format: 'int64' }) created: number;
  model: string;
  /** Empty in the usage chunk. */
  choices: OpenAiChunkChoiceDto[];
  /** With `stream_options.include_usage` only: null, except in the last chunk. */
  @ApiProperty({ type: () => OpenAiUsageDto, nullable: true, required: false }) usage?: OpenAiUsageDto | null;
}
