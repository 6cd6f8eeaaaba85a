import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { abortError, isAbortError } from '../abort';
import {
  FinishReason,
  ModelCompletion,
  ModelProvider,
  ModelProviderError,
  ModelRequest,
  ModelStreamEvent,
  ModelUsage,
} from '../model-provider';
import { ProviderEndpoint } from '../model-registry';
import { countChatTokens, countTokens } from '../tokenizer';

/** Longest provider error text passed on in a `bad_request` message, in characters. */
const MAX_PROVIDER_MESSAGE = 300;

const FINISH_REASONS: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  content_filter: 'content_filter',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
};

/** Upstream usage as Chat Completions reports it; the details are absent on many compatible servers. */
interface UpstreamUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

/**
 * An adapter for every server speaking OpenAI's Chat Completions protocol (OpenAI, Groq, Mistral, DeepSeek,
 * OpenRouter, Ollama, vLLM…), built on the official `openai` SDK with retries off: the caller decides.
 *
 * `options.timeoutMs` bounds a whole call, first byte to last (`limits.provider_timeout_ms`). Usage is the
 * provider's own when it reports it (`stream_options.include_usage`), else a tokenizer estimate. Errors are
 * thrown as {@link ModelProviderError}, never carrying the API key or the raw upstream body; when the caller's
 * signal aborts, an abort error (see `isAbortError`) is thrown instead and the upstream socket is closed.
 */
export class OpenAiCompatibleModelProvider extends ModelProvider {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(
    private readonly endpoint: ProviderEndpoint,
    private readonly options: { timeoutMs: number },
  ) {
    super();
    this.name = endpoint.name;
    this.client = new OpenAI({
      baseURL: endpoint.baseUrl,
      apiKey: endpoint.apiKey ?? 'not-needed',
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
  }

  /**
   * Streams the answer's content deltas, then `finish` with the provider's finish reason and usage.
   * @throws ModelProviderError when the provider fails, including a stream that ends before its finish reason
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    let text = '';
    let finishReason: FinishReason | undefined;
    let upstreamUsage: UpstreamUsage | undefined;
    try {
      const chunks = await this.client.chat.completions.create(
        { ...this.params(request), stream: true, stream_options: { include_usage: true } },
        { signal: AbortSignal.any([signal, deadline]) },
      );
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
      throw this.failure(err, signal, deadline);
    }
    // The SDK ends the iteration quietly when the request was aborted: tell "aborted" from "finished" here.
    if (signal.aborted || deadline.aborted) throw this.failure(undefined, signal, deadline);
    if (!finishReason) {
      throw new ModelProviderError('unavailable', 'The model provider ended the answer before it was complete.');
    }
    yield { type: 'finish', finishReason, usage: this.usage(request, text, upstreamUsage) };
  }

  /**
   * @returns the whole answer of a non-streamed call
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const completion = await this.client.chat.completions.create(
        { ...this.params(request), stream: false },
        { signal: AbortSignal.any([signal, deadline]) },
      );
      const choice = completion.choices[0];
      const text = choice?.message.content ?? '';
      return {
        text,
        finishReason: FINISH_REASONS[choice?.finish_reason ?? 'stop'] ?? 'stop',
        usage: this.usage(request, text, completion.usage),
      };
    } catch (err) {
      throw this.failure(err, signal, deadline);
    }
  }

  private params(request: ModelRequest) {
    return {
      model: request.model,
      messages: request.messages.map(({ role, content }) => ({ role, content }) as ChatCompletionMessageParam),
      temperature: request.temperature,
      max_tokens: request.maxTokens,
    };
  }

  private usage(request: ModelRequest, text: string, upstream: UpstreamUsage | undefined | null): ModelUsage {
    if (!upstream) return { inputTokens: countChatTokens(request.messages), outputTokens: countTokens(text), estimated: true };
    // prompt_tokens already includes the cached tokens, completion_tokens the reasoning ones (OpenAI "usage").
    const cached = upstream.prompt_tokens_details?.cached_tokens;
    const reasoning = upstream.completion_tokens_details?.reasoning_tokens;
    return {
      inputTokens: upstream.prompt_tokens,
      outputTokens: upstream.completion_tokens,
      estimated: false,
      ...(cached && { cachedInputTokens: cached }),
      ...(reasoning && { reasoningTokens: reasoning }),
    };
  }

  /**
   * Normalises a failure: the caller's abort stays an abort error; everything else becomes a
   * {@link ModelProviderError} whose message is safe to show a client.
   */
  private failure(err: unknown, signal: AbortSignal, deadline: AbortSignal): Error {
    if (signal.aborted) return abortError(signal);
    if (deadline.aborted || err instanceof APIConnectionTimeoutError) {
      return new ModelProviderError('timeout', `The model provider did not answer within ${this.options.timeoutMs} ms.`);
    }
    // An abort neither signal asked for is the transport giving up.
    if (err instanceof APIConnectionError || isAbortError(err)) {
      return new ModelProviderError('unavailable', 'The model provider could not be reached.');
    }
    // A cut stream, malformed JSON, or an error event in the middle of a stream.
    if (!(err instanceof APIError) || err.status === undefined) {
      return new ModelProviderError('unavailable', 'The model provider failed while answering.');
    }
    const status = err.status;
    if (status === 401 || status === 403) {
      return new ModelProviderError('auth', "The model provider rejected this server's credentials.", status);
    }
    if (status === 429) {
      return new ModelProviderError('rate_limited', 'The model provider is rate limiting this server.', status, retryAfterSeconds(err.headers));
    }
    if (status === 408) {
      return new ModelProviderError('timeout', 'The model provider timed out.', status);
    }
    if (status >= 400 && status < 500) {
      return new ModelProviderError('bad_request', `The model provider refused the request: ${this.providerMessage(err)}`, status);
    }
    return new ModelProviderError('unavailable', `The model provider failed (HTTP ${status}).`, status);
  }

  /** The provider's own error text, shortened, with the API key masked should it echo it. */
  private providerMessage(err: APIError): string {
    const raw = (err.error as { message?: unknown } | undefined)?.message;
    let message = typeof raw === 'string' && raw.trim() ? raw.trim() : `HTTP ${err.status}`;
    if (this.endpoint.apiKey) message = message.replaceAll(this.endpoint.apiKey, '[redacted]');
    return message.length > MAX_PROVIDER_MESSAGE ? `${message.slice(0, MAX_PROVIDER_MESSAGE)}…` : message;
  }
}

/** Reads `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) as whole seconds; undefined when absent. */
function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}
