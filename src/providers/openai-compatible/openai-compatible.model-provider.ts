import OpenAI, { APIConnectionError, APIError } from 'openai';
import { isAbortError } from '../abort';
import {
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
    const limits = new CallLimits(signal, this.options, true);
    let text = '';
    let finishReason: FinishReason | undefined;
    let upstreamUsage: UpstreamUsage | undefined;
    try {
      const chunks = await this.client.chat.completions.create(
        { ...this.params(request), stream: true, stream_options: { include_usage: true } },
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
        if (choice.finish_reason) finishReason = FINISH_REASONS[choice.finish_reason] ?? 'stop';
      }
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
    // The SDK ends the iteration quietly when the request was aborted: tell "aborted" from "finished" here.
    if (limits.ended) throw limits.endError()!;
    if (!finishReason) throw truncatedStreamError();
    yield { type: 'finish', finishReason, usage: this.usage(request, text, upstreamUsage) };
  }

  /**
   * @returns the whole answer of a non-streamed call
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const limits = new CallLimits(signal, this.options, false);
    try {
      const completion = await this.client.chat.completions.create({ ...this.params(request), stream: false }, { signal: limits.signal });
      const choice = completion.choices[0];
      const text = choice?.message.content ?? '';
      return {
        text,
        finishReason: FINISH_REASONS[choice?.finish_reason ?? 'stop'] ?? 'stop',
        usage: this.usage(request, text, completion.usage),
      };
    } catch (err) {
      throw limits.endError() ?? this.failure(err);
    }
  }

  private params(request: ModelRequest) {
    return {
      model: request.model,
      messages: request.messages.map(({ role, content }) => ({ role: role === 'tool' ? 'user' : role, content })),
      temperature: acceptsTemperature(this.options, request.model) ? request.temperature : undefined,
      [this.endpoint.maxTokensField ?? 'max_tokens']: request.maxTokens,
      ...(request.topP !== undefined && { top_p: request.topP }),
      ...(request.stop?.length && { stop: request.stop }),
    };
  }

  private usage(request: ModelRequest, text: string, upstream: UpstreamUsage | undefined | null): ModelUsage {
    if (!upstream) return estimatedUsage(request, text);
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
