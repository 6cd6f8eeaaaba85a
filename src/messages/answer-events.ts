import { ModelUsage } from '../providers/model-provider';
import type { TurnEvent } from './chat-turn.service';
import type { UsageDto } from './dto/chat-completion.dto';

/** The `done` event's payload in an answer's log (`message_count` is for JSON answers; SSE leaves it out). */
export interface DonePayload {
  message_id: number;
  model: string;
  finish_reason: string;
  usage: UsageDto;
  cost: number;
  title: string | null;
  message_count: number;
  [key: string]: unknown;
}

/** The typed `done` event's payload. */
export function doneDto(event: Extract<TurnEvent, { type: 'done' }>): DonePayload {
  return {
    message_id: event.messageId,
    model: event.model,
    finish_reason: event.finishReason,
    usage: usageDto(event.usage),
    cost: event.cost,
    title: event.title,
    message_count: event.messageCount,
  };
}

/** An answer's usage as the `done` event and the JSON answer show it (cached and reasoning: 0 when not reported). */
export function usageDto(u: ModelUsage): UsageDto {
  return {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    cached_tokens: u.cachedInputTokens ?? 0,
    reasoning_tokens: u.reasoningTokens ?? 0,
    estimated: u.estimated,
  };
}
