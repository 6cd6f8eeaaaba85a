import OpenAI, { APIConnectionError, APIError } from 'openai';
import type {
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import { isAbortError } from '../abort';
import { textOf, ToolCallPart, ToolChoice, ToolDefinition } from '../content-parts';
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
import { partsOf, ToolCallStream, toolCallIdOf } from '../turns';

const FINISH_REASONS: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  content_filter: 'content_filter',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
};

/** Upstream usage as Chat Completions reports it (API reference, "The chat completion object" → `usage`). */
interface UpstreamUsage {
  /** All input tokens, cached ones included. */
  prompt_tokens: number;
  /** All output tokens, reasoning ones included. */
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

/**
 * An adapter for every server speaking OpenAI's Chat Completions protocol (OpenAI, Groq, Mistral, DeepSeek,
 * OpenRouter, Ollama, vLLM…), built on the official `openai` SDK with retries off: the caller decides.
 * The output limit goes out as `max_completion_tokens` to the `openai` provider, else as `max_tokens`.
 * Images go out as `image_url` content parts (URL or `data:` URL as given), tools as `tools` with `tool_choice`,
 * past tool exchanges as `tool_calls` and `tool` messages; streamed `delta.tool_calls` pieces are relayed as
 * tool-call deltas and assembled into the finish event's calls.
 *
 * `options.timeoutMs` bounds a whole call, first byte to last (`limits.provider_timeout_ms`);
 * `options.connectTimeoutMs` bounds the wait for a streamed call's response headers (see `CallLimits`). Usage
 * is the provider's own when it reports it (`stream_options.include_usage`, with cached input and reasoning
 * tokens from `prompt_tokens_details` / `completion_tokens_details`), else a tokenizer estimate. Errors are
 * thrown as `ModelProviderError`, never carrying the API key or the raw upstream body; when the caller's
 * signal aborts, an abort error (see `isAbortError`) is thrown instead and the upstream socket is closed.
 */
export class OpenAiCompatibleModelProvider extends ModelProvider {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(
    private readonly endpoint: ProviderEndpoint,
    private readonly options: AdapterOptions,
  ) {
    super();
    this.name = endpoint.name;
    this.client = new OpenAI({
      baseURL: endpoint.baseUrl,
      apiKey: endpoint.apiKey ?? 'not-needed',
      maxRetries: 0,
      // The SDK's own timer is only a backstop: CallLimits bounds each call (see there).
      timeout: options.timeoutMs,
    });
  }

  /**
   * Streams the answer's content deltas, then `finish` with the provider's finish reason and usage.
   * @throws ModelProviderError when the provider fails, including a stream that ends before its finish reason
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const params = this.params(request);
    const limits = new CallLimits(signal, this.options, true);
    let text = '';
    const calls = new ToolCallStream();
    let finishReason: FinishReason | undefined;
    let upstreamUsage: UpstreamUsage | undefined;
    try {
      const chunks = await this.client.chat.completions.create(
        { ...params, stream: true, stream_options: { include_usage: true } },
        { signal: limits.signal },
      );
      limits.headersReceived();
      for await (const chunk of chunks) {
        if (chunk.usage) upstreamUsage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.delta?.content) {
          text += choice.delta.content;
          yield { type: 'delta', text: choice.delta.content };
        }
        for (const piece of choice.delta?.tool_calls ?? []) {
          if (piece.type === 'custom' || piece.custom) continue;
          // `index` is required, but a server that leaves it out can still be followed: by id, else the last call.
          const key = piece.index ?? piece.id ?? calls.lastKey ?? 0;
          yield calls.piece(key, { id: piece.id, name: piece.function?.name, arguments: piece.function?.arguments });
        }
        if (choice.finish_reason) finishReason = FINISH_REASONS[choice.finish_reason] ?? 'stop';
      }
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
    // The SDK ends the iteration quietly when the request was aborted: tell "aborted" from "finished" here.
    if (limits.ended) throw limits.endError()!;
    if (!finishReason) throw truncatedStreamError();
    yield* calls.end();
    const toolCalls = calls.all;
    yield {
      type: 'finish',
      finishReason: withToolCalls(finishReason, toolCalls),
      usage: this.usage(request, text, upstreamUsage, toolCalls),
      ...(toolCalls.length && { toolCalls }),
    };
  }

  /**
   * @returns the whole answer of a non-streamed call
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const params = this.params(request);
    const limits = new CallLimits(signal, this.options, false);
    try {
      const completion = await this.client.chat.completions.create({ ...params, stream: false }, { signal: limits.signal });
      const choice = completion.choices[0];
      const text = choice?.message.content ?? '';
      const toolCalls = toolCallsOf(choice?.message.tool_calls);
      return {
        text,
        finishReason: withToolCalls(FINISH_REASONS[choice?.finish_reason ?? 'stop'] ?? 'stop', toolCalls),
        usage: this.usage(request, text, completion.usage, toolCalls),
        ...(toolCalls.length && { toolCalls }),
      };
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
  }

  private params(request: ModelRequest) {
    const tools = request.tools?.length ? request.tools : undefined;
    return {
      model: request.model,
      messages: request.messages.map(toMessage),
      temperature: acceptsTemperature(this.options, request.model) ? request.temperature : undefined,
      [this.endpoint.maxTokensField ?? 'max_tokens']: request.maxTokens,
      ...(request.topP !== undefined && { top_p: request.topP }),
      ...(request.stop?.length && { stop: request.stop }),
      ...(tools && { tools: tools.map(toTool) }),
      ...(tools && request.toolChoice && { tool_choice: toToolChoice(request.toolChoice) }),
    };
  }

  private usage(request: ModelRequest, text: string, upstream: UpstreamUsage | undefined | null, toolCalls: ToolCallPart[]): ModelUsage {
    if (!upstream) return estimatedUsage(request, text, 'openai', toolCalls);
    // prompt_tokens already includes the cached tokens, completion_tokens the reasoning ones (OpenAI "usage").
    const cached = upstream.prompt_tokens_details?.cached_tokens;
    const reasoning = upstream.completion_tokens_details?.reasoning_tokens;
    return {
      inputTokens: upstream.prompt_tokens,
      outputTokens: upstream.completion_tokens,
      estimated: false,
      ...(cached !== undefined && { cachedInputTokens: cached }),
      ...(reasoning !== undefined && { reasoningTokens: reasoning }),
    };
  }

  /**
   * Normalises a failure the call's limits did not cause into a `ModelProviderError` whose message is safe
   * to show a client.
   */
  private failure(err: unknown): Error {
    // An abort no limit asked for is the transport giving up.
    if (err instanceof APIConnectionError || isAbortError(err)) return unreachableError();
    // A cut stream, malformed JSON, or an error event in the middle of a stream.
    if (!(err instanceof APIError) || err.status === undefined) return brokenStreamError();
    const raw = (err.error as { message?: unknown } | undefined)?.message;
    // The SDK types `status` and `headers` loosely (any).
    return errorForStatus(
      err.status as number,
      typeof raw === 'string' ? raw : undefined,
      retryAfterSeconds((err.headers as Headers | undefined)?.get('retry-after')),
      this.endpoint.apiKey,
    );
  }
}

/**
 * One turn as a Chat Completions message (API reference, "Create chat completion" → `messages`): a user turn with
 * images as content parts (`text`, `image_url` with the `https:` or `data:` URL as it is and its `detail`), else
 * as a string; an assistant turn's tool calls as `tool_calls` (content null when it has no text); a `tool` turn
 * with its `tool_call_id`. Images are only sent in user turns, where the protocol takes them.
 */
function toMessage(turn: ChatTurn): ChatCompletionMessageParam {
  if (turn.role === 'tool') return { role: 'tool', tool_call_id: toolCallIdOf(turn), content: turn.content };
  if (turn.role === 'system') return { role: 'system', content: turn.content };
  const parts = partsOf(turn);
  if (turn.role === 'assistant') {
    const calls = parts.filter((p) => p.type === 'tool_call');
    if (!calls.length) return { role: 'assistant', content: turn.content };
    const text = textOf(parts);
    return {
      role: 'assistant',
      content: text || null,
      tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
    };
  }
  if (!parts.some((p) => p.type === 'image')) return { role: 'user', content: turn.content };
  const content: ChatCompletionContentPart[] = [];
  for (const part of parts) {
    if (part.type === 'text' && part.text) content.push({ type: 'text', text: part.text });
    else if (part.type === 'image') content.push({ type: 'image_url', image_url: { url: part.url, ...(part.detail && { detail: part.detail }) } });
  }
  return { role: 'user', content };
}

/** A function definition as a Chat Completions tool (`{type: "function", function: {name, description, parameters}}`). */
function toTool(tool: ToolDefinition): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, ...(tool.description !== undefined && { description: tool.description }), parameters: tool.parameters },
  };
}

/** Our tool choice as `tool_choice`: `auto`, `none`, `required`, or `{type: "function", function: {name}}`. */
function toToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

/** The function calls of a non-streamed answer (`message.tool_calls`; custom tool calls are not ours). */
function toolCallsOf(calls: ChatCompletionMessageToolCall[] | undefined): ToolCallPart[] {
  return (calls ?? []).flatMap((c) =>
    c.type === 'function' ? [{ type: 'tool_call' as const, id: c.id, name: c.function.name, arguments: c.function.arguments || '{}' }] : [],
  );
}

/**
 * `tool_calls` when the answer ended normally with tool calls: some OpenAI-compatible servers say `stop` there,
 * and callers act on the finish reason.
 */
function withToolCalls(reason: FinishReason, calls: readonly ToolCallPart[]): FinishReason {
  return reason === 'stop' && calls.length ? 'tool_calls' : reason;
}

