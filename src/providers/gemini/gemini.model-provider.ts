import { ApiError, Content, GenerateContentParameters, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { isAbortError } from '../abort';
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
  credentialsRejected,
  errorForStatus,
  retryAfterSeconds,
  truncatedStreamError,
  unreachableError,
} from '../provider-errors';
import { estimatedUsage } from '../tokenizer';
import { mergeTurns } from '../turns';

/** The Gemini API version this adapter speaks (`/v1beta/models/{model}:generateContent`). */
const API_VERSION = 'v1beta';

/** Gemini `finishReason` → our finish reason (API reference, "GenerateContentResponse" → `FinishReason`). */
const FINISH_REASONS: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  LANGUAGE: 'error',
  OTHER: 'error',
  MALFORMED_FUNCTION_CALL: 'error',
  UNEXPECTED_TOOL_CALL: 'error',
  TOO_MANY_TOOL_CALLS: 'error',
};

/** What one call saw of its HTTP response, for the parts the SDK's `ApiError` leaves out. */
interface CallState {
  retryAfter?: string | null;
  /** fetch failed before any response: refused, reset, DNS. */
  unreachable?: boolean;
}

/**
 * An adapter for the Gemini API (`models.generateContent` / `models.streamGenerateContent`), built on the official
 * `@google/genai` SDK without its retry policy: the caller decides.
 *
 * Turns are translated: system turns become `systemInstruction`; assistant turns take the role `model`;
 * consecutive turns of one role are merged (blank line between) and empty ones dropped. `temperature` and
 * `maxOutputTokens` are passed as given.
 *
 * Usage is normalised from `usageMetadata`: `inputTokens` = `promptTokenCount` (which already includes
 * `cachedContentTokenCount`), `outputTokens` = `candidatesTokenCount` + `thoughtsTokenCount`, `cachedInputTokens`
 * = `cachedContentTokenCount`, `reasoningTokens` = `thoughtsTokenCount`. Thought summaries are never relayed as
 * answer text. Timeouts as in `CallLimits` (the SDK's own `timeout` is left unset: it would bound the whole attempt
 * and send `X-Server-Timeout`).
 */
export class GeminiModelProvider extends ModelProvider {
  readonly name: string;
  private readonly client: GoogleGenAI;

  constructor(
    private readonly endpoint: ProviderEndpoint,
    private readonly options: AdapterOptions,
  ) {
    super();
    this.name = endpoint.name;
    this.client = new GoogleGenAI({
      apiKey: endpoint.apiKey,
      // Explicit, so that GOOGLE_GENAI_USE_VERTEXAI or GOOGLE_GENAI_API_VERSION in the environment change nothing.
      vertexai: false,
      apiVersion: API_VERSION,
      httpOptions: { baseUrl: endpoint.baseUrl },
    });
  }

  /**
   * Streams the answer's text, then `finish` with the finish reason and the last reported usage.
   * @throws ModelProviderError when the provider fails, including an error chunk or a stream that ends before a
   *         finish reason
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const limits = new CallLimits(signal, this.options, true);
    // Aborted when this generator ends early too: the SDK does not cancel a stream its reader abandons.
    const done = new AbortController();
    const state: CallState = {};
    let text = '';
    let finishReason: FinishReason | undefined;
    let usage: GenerateContentResponse['usageMetadata'];
    try {
      const chunks = await this.client.models.generateContentStream(
        this.params(request, AbortSignal.any([limits.signal, done.signal]), state),
      );
      limits.headersReceived();
      for await (const chunk of chunks) {
        if (chunk.usageMetadata) usage = chunk.usageMetadata;
        if (chunk.promptFeedback?.blockReason) finishReason = 'content_filter';
        const candidate = chunk.candidates?.[0];
        const piece = textOf(candidate?.content);
        if (piece) {
          text += piece;
          yield { type: 'delta', text: piece };
        }
        if (candidate?.finishReason) finishReason = FINISH_REASONS[candidate.finishReason] ?? 'stop';
      }
    } catch (err) {
      throw limits.endError() ?? this.failure(err, state);
    } finally {
      done.abort();
    }
    if (limits.ended) throw limits.endError()!;
    if (!finishReason) throw truncatedStreamError();
    yield { type: 'finish', finishReason, usage: this.usage(request, text, usage) };
  }

  /**
   * @returns the whole answer of a non-streamed call
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const limits = new CallLimits(signal, this.options, false);
    const state: CallState = {};
    try {
      const response = await this.client.models.generateContent(this.params(request, limits.signal, state));
      const candidate = response.candidates?.[0];
      const text = textOf(candidate?.content);
      const finishReason = response.promptFeedback?.blockReason
        ? 'content_filter'
        : (FINISH_REASONS[candidate?.finishReason ?? 'STOP'] ?? 'stop');
      return { text, finishReason, usage: this.usage(request, text, response.usageMetadata) };
    } catch (err) {
      throw limits.endError() ?? this.failure(err, state);
    }
  }

  private params(request: ModelRequest, signal: AbortSignal, state: CallState): GenerateContentParameters {
    const { systemInstruction, contents } = toGeminiContents(request.messages);
    return {
      model: request.model,
      contents,
      config: {
        ...(systemInstruction && { systemInstruction }),
        ...(request.temperature !== undefined &&
          acceptsTemperature(this.options, request.model) && { temperature: request.temperature }),
        ...(request.maxTokens !== undefined && { maxOutputTokens: request.maxTokens }),
        ...(request.topP !== undefined && { topP: request.topP }),
        ...(request.stop?.length && { stopSequences: request.stop }),
        abortSignal: signal,
        httpOptions: { fetch: recordingFetch(state) },
      },
    };
  }

  private usage(request: ModelRequest, text: string, upstream: GenerateContentResponse['usageMetadata']): ModelUsage {
    if (upstream?.promptTokenCount === undefined) {
      return estimatedUsage(request, text);
    }
    const thoughts = upstream.thoughtsTokenCount;
    const cached = upstream.cachedContentTokenCount;
    return {
      inputTokens: upstream.promptTokenCount,
      outputTokens: (upstream.candidatesTokenCount ?? 0) + (thoughts ?? 0),
      estimated: false,
      ...(cached !== undefined && { cachedInputTokens: cached }),
      ...(thoughts !== undefined && { reasoningTokens: thoughts }),
    };
  }

  /**
   * Normalises a failure the call's limits did not cause into a `ModelProviderError` whose message is safe
   * to show a client.
   */
  private failure(err: unknown, state: CallState): Error {
    if (err instanceof ApiError) {
      const body = parseErrorBody(err.message);
      // Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID: a credentials problem all the same.
      if (body.keyInvalid) return credentialsRejected(err.status);
      const retryAfter = retryAfterSeconds(state.retryAfter) ?? body.retryDelaySeconds;
      return errorForStatus(err.status, body.message, retryAfter, this.endpoint.apiKey);
    }
    if (state.unreachable || isAbortError(err)) return unreachableError();
    return brokenStreamError();
  }
}

/** Translates our turns to Gemini's ({@link mergeTurns}): the system text as `systemInstruction`, `assistant` → `model`. */
function toGeminiContents(turns: readonly ChatTurn[]): { systemInstruction?: Content; contents: Content[] } {
  const { system, turns: merged } = mergeTurns(turns);
  return {
    ...(system && { systemInstruction: { parts: [{ text: system }] } }),
    contents: merged.map(({ role, content }) => ({ role: role === 'assistant' ? 'model' : 'user', parts: [{ text: content }] })),
  };
}

/** The answer text of a candidate: its text parts, thought summaries left out. */
function textOf(content: Content | undefined): string {
  return (content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('');
}

/**
 * A fetch that notes the `retry-after` header, which the SDK's `ApiError` leaves out (it keeps status and body),
 * and whether the request failed before any response (the SDK passes fetch's error on as it is).
 */
function recordingFetch(state: CallState): typeof fetch {
  return async (input, init) => {
    try {
      const response = await fetch(input, init);
      state.retryAfter = response.headers.get('retry-after');
      return response;
    } catch (err) {
      state.unreachable = true;
      throw err;
    }
  };
}

/** Google's error body (`{"error":{"code","message","status","details"}}`) as the SDK puts it in `ApiError.message`. */
function parseErrorBody(raw: string): { message?: string; retryDelaySeconds?: number; keyInvalid?: boolean } {
  try {
    const error = (JSON.parse(raw) as { error?: { message?: unknown; details?: { retryDelay?: unknown; reason?: unknown }[] } })
      .error;
    // google.rpc.RetryInfo says when to retry a 429, as a duration like "7s".
    const delay = error?.details?.find((d) => typeof d.retryDelay === 'string')?.retryDelay as string | undefined;
    const seconds = delay ? Number.parseFloat(delay) : undefined;
    return {
      message: typeof error?.message === 'string' ? error.message : undefined,
      retryDelaySeconds: seconds !== undefined && Number.isFinite(seconds) ? Math.ceil(seconds) : undefined,
      keyInvalid: error?.details?.some((d) => d.reason === 'API_KEY_INVALID') ?? false,
    };
  } catch {
    return {};
  }
}
