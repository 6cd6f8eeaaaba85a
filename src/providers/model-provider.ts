import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { ContentPart, ToolCallPart, ToolChoice, ToolDefinition } from './content-parts';

/**
 * A turn as sent to a model. `content` is always the turn's text (its text parts joined): what token counting,
 * titles and summaries read. `parts`, when present, is the whole turn (text, images, tool calls) and is what
 * adapters translate; absent, the turn is the one text part `content`. A `tool` turn is a tool's result for the
 * call `toolCallId` of the assistant turn before it.
 */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  parts?: ContentPart[];
  /** For `tool` turns: the id of the tool call this is the result of. */
  toolCallId?: string;
}

/** What a model is asked: the upstream model name (without the `provider/` prefix), turns and sampling options. */
export interface ModelRequest {
  /** Upstream model name, e.g. `gpt-4o-mini` for registry id `openai/gpt-4o-mini`. */
  model: string;
  messages: ChatTurn[];
  temperature?: number;
  /** Nucleus sampling, 0..1 (OpenAI `top_p`, Anthropic `top_p`, Gemini `topP`). */
  topP?: number;
  /** Stop sequences (OpenAI `stop`, Anthropic `stop_sequences`, Gemini `stopSequences`). */
  stop?: string[];
  /** Most output tokens to generate. */
  maxTokens?: number;
  /** Functions the model may call (absent or empty: none). */
  tools?: ToolDefinition[];
  /** Whether and which tool the model must call; only with `tools`. */
  toolChoice?: ToolChoice;
}

/**
 * Token counts of one call, normalised across providers. `estimated` is true when the provider reported none and a
 * tokenizer counted.
 */
export interface ModelUsage {
  /** Every input token, cached ones included (Anthropic: input + cache read + cache creation tokens). */
  inputTokens: number;
  /** Every output token, reasoning ones included (Gemini: candidates + thoughts tokens). */
  outputTokens: number;
  estimated: boolean;
  /** The part of `inputTokens` served from the provider's prompt cache, when the provider says. */
  cachedInputTokens?: number;
  /** The part of `outputTokens` spent on reasoning ("thinking"), when the provider says. */
  reasoningTokens?: number;
}

/** Why an answer ended, in OpenAI's terms (`error`: a failure after the first piece). */
export const FINISH_REASONS = ['stop', 'length', 'content_filter', 'tool_calls', 'error'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/**
 * One piece of a streamed tool call: the call at `index` of the answer (0-based, in the order the model began them);
 * `id` and `name` come with a call's first piece, `arguments` is the next piece of its JSON text (may be empty).
 */
export interface ToolCallDelta {
  type: 'tool_call_delta';
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/**
 * One event of a streamed answer: text pieces and tool-call pieces, then exactly one `finish` (with usage) at the
 * end. `finish.toolCalls` holds every tool call whole, in index order (empty when the model called none).
 */
export type ModelStreamEvent =
  | { type: 'delta'; text: string }
  | ToolCallDelta
  | { type: 'finish'; finishReason: FinishReason; usage: ModelUsage; toolCalls?: ToolCallPart[] };

/** A whole, non-streamed answer; `toolCalls` the calls the model asked for (absent or empty: none). */
export interface ModelCompletion {
  text: string;
  finishReason: FinishReason;
  usage: ModelUsage;
  toolCalls?: ToolCallPart[];
}

/**
 * A model provider adapter: the interface every adapter implements and the type the factory hands out.
 * Provider SDKs and wire formats stay inside the adapters.
 *
 * Both methods honour `signal`: aborting it closes the upstream request at once. Failures are thrown as
 * {@link ModelProviderError}.
 */
export abstract class ModelProvider {
  /** Provider name as in the registry (`openai`, `groq`, `offline`, …). */
  abstract readonly name: string;

  /** Streams an answer piece by piece; the last event is `finish`. */
  abstract stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent>;

  /** Produces a whole answer. */
  abstract complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion>;
}

/** Why a provider call failed, normalised across providers; mapped to HTTP once, at the edge. */
export type ModelProviderErrorKind =
  | 'auth' // the provider rejected our credentials (401/403)
  | 'rate_limited' // 429 from the provider
  | 'bad_request' // the provider refused the request (400/404/422)
  | 'unavailable' // 5xx, connection refused, stream cut
  | 'timeout'
  | 'not_configured'; // the model's provider has no base URL or key on this server

/**
 * A provider call failed, or the model can't be called at all (`not_configured`). `message` is safe to show to a
 * client (never contains a key); `retryAfterSeconds` is set when the provider said when to retry.
 */
export class ModelProviderError extends DomainError {
  readonly code: DomainErrorCode;

  constructor(
    readonly kind: ModelProviderErrorKind,
    message: string,
    readonly upstreamStatus?: number,
    override readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ModelProviderError';
    this.code = `provider.${kind}`;
  }
}
