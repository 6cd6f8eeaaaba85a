import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import { ContentPart, IMAGE_MEDIA_TYPES } from '../../providers/content-parts';
import { FINISH_REASONS } from '../../providers/model-provider';

/** How a stored answer ended: a provider's finish reasons, or `cancelled` (stopped through the cancel route). */
export const ANSWER_FINISH_REASONS = [...FINISH_REASONS, 'cancelled'] as const;
import { MESSAGE_ROLES, MESSAGE_STATUSES, MessageEntity, MessageRole, MessageStatus } from '../message.entity';
import type { MessageInTree } from '../messages.repository';

/** Token counts of one answer (also the streamed `done` event's `usage`). */
export class UsageDto {
  /** Input tokens, cached ones included. */
  @ApiProperty({ type: 'integer' }) input_tokens: number;
  /** Output tokens, reasoning ones included. */
  @ApiProperty({ type: 'integer' }) output_tokens: number;
  @ApiProperty({ type: 'integer' }) total_tokens: number;
  /** Of `input_tokens`, served from the provider's prompt cache (0 when the provider does not say). */
  @ApiProperty({ type: 'integer' }) cached_tokens: number;
  /** Of `output_tokens`, spent on hidden reasoning (0 when the provider does not say). */
  @ApiProperty({ type: 'integer' }) reasoning_tokens: number;
  /** True when the provider reported no usage and a tokenizer counted instead. */
  estimated: boolean;
}

/** A piece of text. */
export class TextPartDto {
  @ApiProperty({ enum: ['text'] }) type: 'text';
  text: string;
}

/** An image of a user message, as sent (`url`) and, once the server has checked it, what it is. */
export class ImagePartDto {
  @ApiProperty({ enum: ['image'] }) type: 'image';
  /** The `https:` URL or `data:` URL as sent. */
  url: string;
  @ApiProperty({ enum: IMAGE_MEDIA_TYPES, required: false }) media_type?: string;
  /** Pixels. */
  @ApiProperty({ type: 'integer', required: false }) width?: number;
  /** Pixels. */
  @ApiProperty({ type: 'integer', required: false }) height?: number;
  /** Size of the image file. */
  @ApiProperty({ type: 'integer', required: false }) bytes?: number;
  @ApiProperty({ enum: ['auto', 'low', 'high'], required: false }) detail?: string;
}

/** A function call the model asked for (assistant messages). */
export class ToolCallPartDto {
  @ApiProperty({ enum: ['tool_call'] }) type: 'tool_call';
  /** Send it back as the `tool_call_id` of the `tool` message carrying the result. */
  id: string;
  /** The function's name, one of the request's `tools`. */
  name: string;
  /** The arguments as JSON text, as the model wrote them (check them before use). */
  arguments: string;
}

/** The OpenAPI schema of a message's `parts`. */
export const PARTS_SCHEMA = {
  type: 'array' as const,
  items: {
    oneOf: [TextPartDto, ImagePartDto, ToolCallPartDto].map((p) => ({ $ref: getSchemaPath(p) })),
    discriminator: { propertyName: 'type' },
  },
};

/** The answer's message. */
export class AssistantMessageDto {
  /** Always `assistant`. */
  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' }) role: MessageRole;
  /** The answer's text (its text parts joined). */
  content: string;
  /** The whole answer: its text (one text part, none when empty), then its tool calls. */
  @ApiProperty(PARTS_SCHEMA)
  parts: ContentPart[];
}

/** Answer of `POST /v1/chat/stream` with `stream: false`. */
export class ChatCompletionDto {
  /** Id of the stored assistant message. */
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** Registry id of the model that answered (a fallback when the requested one failed). */
  model: string;
  output_text: string;
  message: AssistantMessageDto;
  /** The session's title; null while a model is still titling the session in the background. */
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  /** Messages now stored in the session. */
  @ApiProperty({ type: 'integer' }) message_count: number;
  usage: UsageDto;
  /** USD. */
  cost: number;
  /** Why the answer ended: `stop`, `length` (output limit), `content_filter`, `tool_calls` or `error`. */
  @ApiProperty({ enum: ANSWER_FINISH_REASONS, enumName: 'FinishReason' }) finish_reason: string;
}

/** One model tried for an answer. */
export class ModelAttemptDto {
  /** Registry id. */
  model: string;
  /**
   * Why this model was given up (or failed mid-stream); null for the model that answered. `context_too_small`: a
   * fallback whose context window can't hold the new message, skipped without a call.
   */
  @ApiProperty({
    type: String,
    nullable: true,
    enum: ['auth', 'rate_limited', 'bad_request', 'unavailable', 'timeout', 'not_configured', 'context_too_small'],
    enumName: 'ModelErrorKind',
  })
  error_kind: string | null;
  /** The provider's HTTP status for that error, when it sent one. */
  @ApiProperty({ type: 'integer', nullable: true }) upstream_status: number | null;
  /** Calls to this model after the first one. */
  @ApiProperty({ type: 'integer' }) retries: number;
}

/** The unit prices an answer was costed with, as the model registry had them then (USD per 1M tokens). */
export class MessagePricingDto {
  input_per_1m: number;
  /** Input tokens served from the provider's prompt cache (the input price when the model has no other). */
  cached_input_per_1m: number;
  output_per_1m: number;
  /** The day the price was read from the provider's price list (`YYYY-MM-DD`); null when the registry did not say. */
  @ApiProperty({ type: String, format: 'date', nullable: true })
  priced_at: string | null;
}

/** A stored message (`GET /v1/chat/sessions/{id}/messages`). */
export class MessageDto {
  @ApiProperty({ type: 'integer' }) id: number;
  /** The message this one follows in the session's message tree; null for a first message. */
  @ApiProperty({ type: 'integer', nullable: true }) parent_id: number | null;
  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' }) role: MessageRole;
  /** The text: the message's text parts joined. */
  content: string;
  /**
   * The whole message: text, images (user messages) and tool calls (assistant messages), in order. An answer in
   * progress holds its text so far.
   */
  @ApiProperty(PARTS_SCHEMA)
  parts: ContentPart[];
  /** `tool` messages: the id of the tool call this is the result of; null otherwise. */
  @ApiProperty({ type: String, nullable: true }) tool_call_id: string | null;
  /** The model that answered (assistant messages). */
  @ApiProperty({ type: String, nullable: true }) model: string | null;
  /**
   * `in_progress` while being generated; `complete`; `incomplete` when the client left mid-stream or the server
   * stopped generating it; `failed` when the provider failed; `cancelled` when stopped by a cancel.
   */
  @ApiProperty({ enum: MESSAGE_STATUSES, enumName: 'MessageStatus' }) status: MessageStatus;
  /** Why the answer ended (assistant messages); null for other roles and answers still running. */
  @ApiProperty({ enum: ANSWER_FINISH_REASONS, enumName: 'FinishReason', nullable: true }) finish_reason: string | null;
  @ApiProperty({ type: 'integer' }) tokens_input: number;
  @ApiProperty({ type: 'integer' }) tokens_output: number;
  /** Of `tokens_input`, those served from the provider's prompt cache. */
  @ApiProperty({ type: 'integer' }) tokens_cached: number;
  /** Of `tokens_output`, those spent on hidden reasoning. */
  @ApiProperty({ type: 'integer' }) tokens_reasoning: number;
  usage_estimated: boolean;
  /** USD, at the price in force when the answer was stored (see `pricing`); a later price change leaves it be. */
  cost: number;
  /**
   * Assistant messages: the unit prices `cost` was computed with, kept with the answer; null for other roles,
   * answers still running, and answers stored before prices were kept.
   */
  @ApiProperty({ type: MessagePricingDto, nullable: true })
  pricing: MessagePricingDto | null;
  /** Assistant messages: every model tried for the answer, in order (retries and fallbacks); empty otherwise. */
  attempts: ModelAttemptDto[];
  created_at: string;

  static from(m: MessageEntity): MessageDto {
    return {
      id: m.id,
      parent_id: m.parentId,
      role: m.role,
      content: m.content,
      parts: m.parts,
      tool_call_id: m.toolCallId,
      model: m.model,
      status: m.status,
      finish_reason: m.finishReason,
      tokens_input: m.tokensInput,
      tokens_output: m.tokensOutput,
      tokens_cached: m.tokensCached,
      tokens_reasoning: m.tokensReasoning,
      usage_estimated: m.usageEstimated,
      cost: m.cost,
      pricing:
        m.priceInputPer1m === null || m.priceInputPer1m === undefined
          ? null
          : {
              input_per_1m: m.priceInputPer1m,
              cached_input_per_1m: m.priceCachedInputPer1m ?? m.priceInputPer1m,
              output_per_1m: m.priceOutputPer1m ?? 0,
              priced_at: dateOnly(m.pricedAt),
            },
      attempts: m.attempts,
      created_at: m.createdAt.toISOString(),
    };
  }
}

/** An answer as `GET /v1/chat/messages/{id}` shows it: a stored message with its session. */
export class AnswerStateDto extends MessageDto {
  @ApiProperty({ type: 'integer' }) session_id: number;

  static override from(m: MessageEntity): AnswerStateDto {
    return { ...MessageDto.from(m), session_id: m.sessionId };
  }
}

/** `POST /v1/chat/stream` with `background: true, stream: false`: the answer runs on; poll or resume it. */
export class BackgroundAnswerDto {
  @ApiProperty({ type: 'integer' }) message_id: number;
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** `in_progress` */
  status: string;
}

/** A page of messages, oldest first, read by keyset (`after_id`) or by page number (`page`). */
/** A message of a session's list, with its place among its siblings (alternative versions with the same parent). */
export class TreeMessageDto extends MessageDto {
  /** 0-based position among its siblings, oldest first. */
  @ApiProperty({ type: 'integer' }) sibling_index: number;
  /** How many versions there are at this place (1: no alternative). */
  @ApiProperty({ type: 'integer' }) sibling_count: number;

  static fromTree(t: MessageInTree): TreeMessageDto {
    return { ...MessageDto.from(t.message), sibling_index: t.siblingIndex, sibling_count: t.siblingCount };
  }
}

export class MessagePageDto {
  /** Messages in the session, on every branch. */
  @ApiProperty({ type: 'integer' }) total: number;
  /** The page number asked for with `page`; null when paging by `after_id`. */
  @ApiProperty({ type: 'integer', nullable: true }) page: number | null;
  @ApiProperty({ type: 'integer' }) page_size: number;
  /** The active branch (default), or with `branch=all` every message of every branch, by id. */
  items: TreeMessageDto[];
  /** Pass as `after_id` for the next page; null on the last page. */
  @ApiProperty({ type: 'integer', nullable: true }) next_after_id: number | null;
}

/** A `date` column as `YYYY-MM-DD`, whether the driver gave a string or a Date (UTC midnight). */
function dateOnly(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}
