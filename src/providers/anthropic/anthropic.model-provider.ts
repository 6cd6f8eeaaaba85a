import Anthropic, { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  ImageBlockParam,
  MessageParam,
  Tool,
  ToolChoice as AnthropicToolChoice,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { isAbortError } from '../abort';
import { ImagePart, ToolCallPart, ToolChoice, ToolDefinition } from '../content-parts';
import {
  ChatTurn,
  FinishReason,
  ModelCompletion,
  ModelProvider,
  ModelRequest,
  ModelStreamEvent,
  ModelUsage,
} from '../model-provider';
import { ProviderEndpoint } from '../model-registry';
import { acceptsTemperature, AdapterOptions, CallLimits } from '../adapter-options';
import {
  brokenStreamError,
  errorForStatus,
  retryAfterSeconds,
  truncatedStreamError,
  unreachableError,
} from '../provider-errors';
import { estimatedUsage } from '../tokenizer';
import { argumentsObject, ConversationTurn, inlineImageOf, mergeTurns, ToolCallStream, TurnPart } from '../turns';

/** Messages API `stop_reason` → our finish reason (API reference, "Messages" → `stop_reason`). */
const FINISH_REASONS: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
  tool_use: 'tool_calls',
};

/**
 * The HTTP status each error `type` comes with (API reference, "Errors"), so that an `error` event inside a 200
 * stream is classified like the same error before the stream.
 */
const STATUS_BY_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** Anthropic's `temperature` ranges from 0 to 1 (API reference, "Messages" → `temperature`); ours up to 2. */
const MAX_TEMPERATURE = 1;

/** Max output tokens when neither the request nor the registry names any (Anthropic requires `max_tokens`). */
const FALLBACK_MAX_TOKENS = 4096;

/** Usage fields of `message_start.message.usage`, `message_delta.usage` and a whole message's `usage`. */
interface UpstreamUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

/**
 * An adapter for Anthropic's Messages API (`POST /v1/messages`), built on the official `@anthropic-ai/sdk` with
 * retries off: the caller decides.
 *
 * Turns are translated to the API's shape: system turns become the top-level `system` text; only `user` and
 * `assistant` turns remain, consecutive turns of one role are merged (blank line between), empty ones dropped, and
 * leading assistant turns dropped because the first turn must be the user's. Parts become content blocks: text,
 * images (`image` with a `base64` source for `data:` URLs, a `url` source for `https:` ones, which Anthropic
 * fetches), tool calls (`tool_use` with the parsed arguments as `input`) and tool results (`tool_result`, in the
 * user's turn; consecutive results in one message). Tools go out as `tools` (`input_schema`) with `tool_choice`
 * (`auto`, `any`, `tool` by name, `none`); streamed `tool_use` blocks are relayed as tool-call deltas
 * (`input_json_delta` pieces as the arguments' pieces). `max_tokens` is required: the
 * request's (a send always names the output its context reserved), else the model's max output. `temperature` is
 * capped at 1, Anthropic's maximum.
 *
 * Usage is normalised: `inputTokens` = `input_tokens` + `cache_read_input_tokens` + `cache_creation_input_tokens`
 * (Anthropic counts them apart), `cachedInputTokens` = `cache_read_input_tokens`, `reasoningTokens` =
 * `output_tokens_details.thinking_tokens`. A stream reports input in `message_start` and cumulative output in
 * `message_delta`. Timeouts as in `CallLimits`. Errors, including an `error` event inside a 200 stream, are thrown
 * as `ModelProviderError` (never carrying the key); the caller's abort throws an abort error and closes the upstream
 * socket. The SDK sends the key as `Authorization: Bearer` (its `apiKey` option), which the API accepts besides
 * `x-api-key`.
 */
export class AnthropicModelProvider extends ModelProvider {
  readonly name: string;
  private readonly client: Anthropic;

  constructor(
    private readonly endpoint: ProviderEndpoint,
    private readonly options: AdapterOptions,
  ) {
    super();
    this.name = endpoint.name;
    this.client = new Anthropic({
      apiKey: endpoint.apiKey ?? null,
      // Only the configured key authenticates: never a bearer token picked up from ANTHROPIC_AUTH_TOKEN.
      authToken: null,
      baseURL: endpoint.baseUrl,
      maxRetries: 0,
      // The SDK's own timer is only a backstop (CallLimits bounds each call); an explicit one also keeps the SDK
      // from refusing non-streamed calls with a large max_tokens.
      timeout: options.timeoutMs,
    });
  }

  /**
   * Streams the text deltas, then `finish` with the stop reason and usage.
   * @throws ModelProviderError when the provider fails, including an `error` event or a stream that ends before
   *         `message_stop`
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const params = this.params(request);
    const limits = new CallLimits(signal, this.options, true);
    let text = '';
    const calls = new ToolCallStream();
    let stopReason: string | null | undefined;
    let stopped = false;
    let usage: UpstreamUsage | undefined;
    try {
      const events = await this.client.messages.create({ ...params, stream: true }, { signal: limits.signal });
      limits.headersReceived();
      for await (const event of events) {
        if (event.type === 'message_start') {
          usage = { ...event.message.usage };
        } else if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
          // The block starts with `input: {}`; the arguments follow as input_json_delta pieces.
          yield calls.piece(event.index, { id: event.content_block.id, name: event.content_block.name });
        } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          text += event.delta.text;
          yield { type: 'delta', text: event.delta.text };
        } else if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
          yield calls.piece(event.index, { arguments: event.delta.partial_json });
        } else if (event.type === 'message_delta') {
          stopReason = event.delta.stop_reason;
          // Counts here are cumulative; input fields are null when unchanged since message_start.
          usage = { ...usage, ...withoutNulls(event.usage ?? {}) };
        } else if (event.type === 'message_stop') {
          stopped = true;
        }
      }
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
    // The SDK ends the iteration quietly when the request was aborted: tell "aborted" from "finished" here.
    if (limits.ended) throw limits.endError()!;
    if (!stopped) throw truncatedStreamError();
    yield* calls.end();
    const toolCalls = calls.all;
    yield {
      type: 'finish',
      finishReason: finishReasonOf(stopReason),
      usage: this.usage(request, text, usage, toolCalls),
      ...(toolCalls.length && { toolCalls }),
    };
  }

  /**
   * @returns the whole answer of a non-streamed call (the text blocks joined, the `tool_use` blocks as tool calls)
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const params = this.params(request);
    const limits = new CallLimits(signal, this.options, false);
    try {
      const message = await this.client.messages.create({ ...params, stream: false }, { signal: limits.signal });
      const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      const toolCalls = toolCallsOf(message.content);
      return {
        text,
        finishReason: finishReasonOf(message.stop_reason),
        usage: this.usage(request, text, message.usage, toolCalls),
        ...(toolCalls.length && { toolCalls }),
      };
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
  }

  private params(request: ModelRequest) {
    const { system, messages } = toAnthropicTurns(request.messages);
    return {
      model: request.model,
      ...toolParams(request, messages),
      max_tokens: request.maxTokens ?? this.options.models?.(request.model)?.maxOutputTokens ?? FALLBACK_MAX_TOKENS,
      messages,
      ...(system && { system }),
      ...(request.temperature !== undefined &&
        acceptsTemperature(this.options, request.model) && { temperature: Math.min(request.temperature, MAX_TEMPERATURE) }),
      ...(request.topP !== undefined && { top_p: request.topP }),
      ...(request.stop?.length && { stop_sequences: request.stop }),
    };
  }

  private usage(request: ModelRequest, text: string, upstream: UpstreamUsage | undefined, toolCalls: ToolCallPart[]): ModelUsage {
    if (typeof upstream?.input_tokens !== 'number' || typeof upstream.output_tokens !== 'number') {
      return estimatedUsage(request, text, 'anthropic', toolCalls);
    }
    const cacheRead = upstream.cache_read_input_tokens ?? undefined;
    const thinking = upstream.output_tokens_details?.thinking_tokens ?? undefined;
    return {
      inputTokens: upstream.input_tokens + (cacheRead ?? 0) + (upstream.cache_creation_input_tokens ?? 0),
      outputTokens: upstream.output_tokens,
      estimated: false,
      ...(cacheRead !== undefined && { cachedInputTokens: cacheRead }),
      ...(thinking !== undefined && { reasoningTokens: thinking }),
    };
  }

  /**
   * Normalises a failure the call's limits did not cause into a `ModelProviderError` whose message is safe to
   * show a client.
   */
  private failure(err: unknown): Error {
    if (err instanceof APIConnectionError || isAbortError(err)) return unreachableError();
    if (!(err instanceof APIError)) return brokenStreamError();
    // An `error` event inside a 200 stream has no status of its own: its `type` says which it would have had.
    // The SDK types `status` and `headers` loosely (any).
    const status = (err.status as number | undefined) ?? (err.type ? STATUS_BY_ERROR_TYPE[err.type] : undefined);
    if (status === undefined) return brokenStreamError();
    const retryAfter = retryAfterSeconds((err.headers as Headers | undefined)?.get('retry-after'));
    return errorForStatus(status, err.apiMessage ?? undefined, retryAfter, this.endpoint.apiKey);
  }
}

/**
 * Translates our turns to the Messages API's ({@link mergeTurns}), the conversation starting at the first user turn.
 * The tool results answering calls of a dropped leading assistant turn go with it: the API refuses a `tool_result`
 * without its `tool_use` just before.
 */
function toAnthropicTurns(turns: readonly ChatTurn[]): { system?: string; messages: MessageParam[] } {
  const { system, turns: merged } = mergeTurns(turns);
  while (merged[0]?.role === 'assistant') {
    merged.shift();
    const first = merged[0];
    if (!first) break;
    first.parts = first.parts.filter((p) => p.type !== 'tool_result');
    if (!first.parts.length) merged.shift();
  }
  return { ...(system && { system }), messages: merged.map(toMessage) };
}

/** A turn as a message: its content a string when it is one text, else content blocks. */
function toMessage(turn: ConversationTurn): MessageParam {
  const [only] = turn.parts;
  if (turn.parts.length === 1 && only.type === 'text') return { role: turn.role, content: only.text };
  return { role: turn.role, content: turn.parts.map(toBlock) };
}

/** One part as a content block (API reference, "Messages" → content block params). */
function toBlock(part: TurnPart): ContentBlockParam {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return imageBlock(part);
    case 'tool_call':
      return { type: 'tool_use', id: part.id, name: part.name, input: argumentsObject(part.arguments) };
    case 'tool_result':
      return { type: 'tool_result', tool_use_id: part.toolCallId, ...(part.content && { content: part.content }) };
  }
}

/** An image block: a `data:` URL as a `base64` source, an `https:` URL as a `url` source (Anthropic fetches it). */
function imageBlock(image: ImagePart): ImageBlockParam {
  const inline = inlineImageOf(image.url);
  return {
    type: 'image',
    source: inline ? { type: 'base64', media_type: inline.mediaType, data: inline.data } : { type: 'url', url: image.url },
  };
}

/**
 * `tools` and `tool_choice` for the request. When the conversation holds tool calls but the request offers no
 * tools, the called tools are declared (by name, any input) with `tool_choice: none`: the API refuses `tool_use` and
 * `tool_result` blocks in a request that defines no tools, and a conversation must stay sendable when the tools are
 * no longer offered (a summary, a title, a client that stopped offering them).
 */
function toolParams(request: ModelRequest, messages: MessageParam[]): { tools?: Tool[]; tool_choice?: AnthropicToolChoice } {
  if (request.tools?.length) {
    return { tools: request.tools.map(toTool), ...(request.toolChoice && { tool_choice: toToolChoice(request.toolChoice) }) };
  }
  const called = new Set<string>();
  for (const message of messages) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) if (block.type === 'tool_use') called.add(block.name);
  }
  if (!called.size) return {};
  return { tools: [...called].map((name) => ({ name, input_schema: { type: 'object' } })), tool_choice: { type: 'none' } };
}

/** A function definition as a Messages API tool (`name`, `description`, `input_schema`). */
function toTool(tool: ToolDefinition): Tool {
  return {
    name: tool.name,
    ...(tool.description !== undefined && { description: tool.description }),
    input_schema: { type: 'object', ...tool.parameters },
  };
}

/** Our tool choice as `tool_choice`: `auto`, `any` (for `required`), `tool` by name, or `none`. */
function toToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (choice === 'auto' || choice === 'none') return { type: choice };
  if (choice === 'required') return { type: 'any' };
  return { type: 'tool', name: choice.name };
}

/** The `tool_use` blocks of a whole message as tool calls, their `input` as JSON text. */
function toolCallsOf(content: ContentBlock[]): ToolCallPart[] {
  return content.flatMap((block) =>
    block.type === 'tool_use' ? [{ type: 'tool_call' as const, id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) }] : [],
  );
}

function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  return (stopReason && FINISH_REASONS[stopReason]) || 'stop';
}

/** The fields of `usage` that carry a value (`message_delta` sends null for counts it does not update). */
function withoutNulls(usage: object): UpstreamUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== null && v !== undefined));
}
