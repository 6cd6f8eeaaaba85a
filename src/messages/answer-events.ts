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
  /** Our own time before the provider was called, and the provider's to its last piece (ms). */
  server_timing: { app_ms: number; provider_ms: number };
  [key: string]: unknown;
}

/** The typed `done` event's payload, for a stored answer (only those have an event log). */
export function doneDto(event: Extract<TurnEvent, { type: 'done' }> & { messageId: number }, preparedMs: number): DonePayload {
  return {
    message_id: event.messageId,
    model: event.model,
    finish_reason: event.finishReason,
    usage: usageDto(event.usage),
    cost: event.cost,
    title: event.title,
    message_count: event.messageCount,
    server_timing: { app_ms: round(preparedMs), provider_ms: round(event.providerMs) },
  };
}

/**
 * A W3C Server-Timing value: `app` is our own time before the provider was called, `provider` the provider's time
 * to the last piece (known only once the answer is complete). Milliseconds, as the specification's `dur`.
 */
export function serverTiming(appMs: number, providerMs?: number): string {
  return providerMs === undefined ? `app;dur=${round(appMs)}` : `app;dur=${round(appMs)}, provider;dur=${round(providerMs)}`;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

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
