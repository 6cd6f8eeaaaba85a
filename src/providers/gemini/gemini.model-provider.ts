import {
  ApiError,
  Content,
  FunctionCallingConfigMode,
  FunctionDeclaration,
  GenerateContentParameters,
  GenerateContentResponse,
  GoogleGenAI,
  Part,
  ToolConfig,
} from '@google/genai';
import { isAbortError } from '../abort';
import { ImagePart, ToolCallPart, ToolChoice, ToolDefinition } from '../content-parts';
import {
  ChatTurn,
  ModelProviderError,
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
import { argumentsObject, ConversationTurn, generatedCallId, inlineImageOf, mergeTurns } from '../turns';

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
 * `maxOutputTokens` are passed as given. Images go inline (`inlineData`): a `data:` URL as it is, an `https:` URL
 * loaded by `options.loadImage` first (the Gemini API fetches no arbitrary URLs). Tool calls are `functionCall`
 * parts of the model's turn, tool results `functionResponse` parts of the user's, named after their call. Tools
 * go out as `functionDeclarations` with `parametersJsonSchema` (the definitions are JSON Schema; `parameters`
 * takes only Google's OpenAPI subset), the tool choice as `toolConfig.functionCallingConfig`. Gemini gives calls no
 * ids (or not always): calls without one get `call_<index>_<random>`; every function call arrives whole, so it is
 * relayed as one tool-call delta, and an answer with calls finishes with `tool_calls`.
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
    // Images are loaded before the call's limits start: the loader bounds its own fetches.
    const contents = await this.contents(request, signal);
    const limits = new CallLimits(signal, this.options, true);
    // Aborted when this generator ends early too: the SDK does not cancel a stream its reader abandons.
    const done = new AbortController();
    const state: CallState = {};
    let text = '';
    const toolCalls: ToolCallPart[] = [];
    let finishReason: FinishReason | undefined;
    let usage: GenerateContentResponse['usageMetadata'];
    try {
      const chunks = await this.client.models.generateContentStream(
        this.params(request, contents, AbortSignal.any([limits.signal, done.signal]), state),
      );
      limits.headersReceived();
      for await (const chunk of chunks) {
        if (chunk.usageMetadata) usage = chunk.usageMetadata;
        if (chunk.promptFeedback?.blockReason) finishReason = 'content_filter';
        const candidate = chunk.candidates?.[0];
        const piece = answerTextOf(candidate?.content);
        if (piece) {
          text += piece;
          yield { type: 'delta', text: piece };
        }
        for (const call of toolCallsOf(candidate?.content, toolCalls.length)) {
          yield { type: 'tool_call_delta', index: toolCalls.length, id: call.id, name: call.name, arguments: call.arguments };
          toolCalls.push(call);
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
    yield {
      type: 'finish',
      finishReason: withToolCalls(finishReason, toolCalls),
      usage: this.usage(request, text, usage, toolCalls),
      ...(toolCalls.length && { toolCalls }),
    };
  }

  /**
   * @returns the whole answer of a non-streamed call
   * @throws ModelProviderError when the provider fails
   */
  async complete(request: ModelRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const contents = await this.contents(request, signal);
    const limits = new CallLimits(signal, this.options, false);
    const state: CallState = {};
    try {
      const response = await this.client.models.generateContent(this.params(request, contents, limits.signal, state));
      const candidate = response.candidates?.[0];
      const text = answerTextOf(candidate?.content);
      const toolCalls = toolCallsOf(candidate?.content, 0);
      const finishReason = response.promptFeedback?.blockReason
        ? 'content_filter'
        : withToolCalls(FINISH_REASONS[candidate?.finishReason ?? 'STOP'] ?? 'stop', toolCalls);
      return { text, finishReason, usage: this.usage(request, text, response.usageMetadata, toolCalls), ...(toolCalls.length && { toolCalls }) };
    } catch (err) {
      throw limits.endError() ?? this.failure(err, state);
    }
  }

  /**
   * The request's turns as Gemini contents, `https:` images loaded through `options.loadImage`.
   * @throws ModelProviderError `bad_request` for an `https:` image when no loader is configured; whatever the loader
   *         throws for an image it refuses
   */
  private async contents(request: ModelRequest, signal: AbortSignal): Promise<GeminiContents> {
    const urls = new Set<string>();
    for (const turn of request.messages) {
      if (turn.role !== 'user' && turn.role !== 'assistant') continue;
      for (const part of turn.parts ?? []) if (part.type === 'image' && !part.url.startsWith('data:')) urls.add(part.url);
    }
    const loaded = new Map<string, Part>();
    if (urls.size && !this.options.loadImage) {
      throw new ModelProviderError('bad_request', 'This server cannot send image URLs to Gemini models: send the image as a data: URL instead.');
    }
    await Promise.all(
      [...urls].map(async (url) => {
        const { mediaType, data } = await this.options.loadImage!(url, signal);
        loaded.set(url, { inlineData: { mimeType: mediaType, data: data.toString('base64') } });
      }),
    );
    return toGeminiContents(request.messages, (image) => loaded.get(image.url)!, needsSignatures(request.model));
  }

  private params(request: ModelRequest, { systemInstruction, contents }: GeminiContents, signal: AbortSignal, state: CallState): GenerateContentParameters {
    const tools = request.tools?.length ? request.tools : undefined;
    return {
      model: request.model,
      contents,
      config: {
        ...(systemInstruction && { systemInstruction }),
        ...(tools && { tools: [{ functionDeclarations: tools.map(toDeclaration) }] }),
        ...(tools && request.toolChoice && { toolConfig: toToolConfig(request.toolChoice) }),
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

  private usage(
    request: ModelRequest,
    text: string,
    upstream: GenerateContentResponse['usageMetadata'],
    toolCalls: ToolCallPart[],
  ): ModelUsage {
    if (upstream?.promptTokenCount === undefined) {
      return estimatedUsage(request, text, 'gemini', toolCalls);
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

/** The turns of a request as the Gemini API takes them. */
interface GeminiContents {
  systemInstruction?: Content;
  contents: Content[];
}

/**
 * The `thoughtSignature` Google documents for function calls that carry no signature of the model's own (Gemini API
 * "Thought signatures": calls made by another model, or whose signature was not kept). Gemini 3 refuses a
 * conversation whose function calls lack one.
 */
const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** True for models that check thought signatures on replayed function calls: every family after Gemini 2.x. */
function needsSignatures(model: string): boolean {
  return !/^gemini-[12](\.|-)/.test(model);
}

/**
 * Translates our turns to Gemini's ({@link mergeTurns}): the system text as `systemInstruction`, `assistant` →
 * `model`, images as `inlineData` (`https:` ones as `loaded` gives them), tool calls as `functionCall` (the first of
 * each model turn with the signature placeholder where the model checks signatures), tool results as
 * `functionResponse` (`response` the result's JSON object, else `{output: text}`, the key the API reference names
 * for a function's output).
 * @throws ModelProviderError `bad_request` for a tool result whose call is not in the conversation (Gemini needs
 *         the function's name)
 */
function toGeminiContents(turns: readonly ChatTurn[], loaded: (image: ImagePart) => Part, signatures: boolean): GeminiContents {
  const { system, turns: merged } = mergeTurns(turns);
  return {
    ...(system && { systemInstruction: { parts: [{ text: system }] } }),
    contents: merged.map((turn) => ({ role: turn.role === 'assistant' ? 'model' : 'user', parts: toParts(turn, loaded, signatures) })),
  };
}

function toParts(turn: ConversationTurn, loaded: (image: ImagePart) => Part, signatures: boolean): Part[] {
  let signed = !signatures;
  return turn.parts.map((part): Part => {
    switch (part.type) {
      case 'text':
        return { text: part.text };
      case 'image': {
        const inline = inlineImageOf(part.url);
        return inline ? { inlineData: { mimeType: inline.mediaType, data: inline.data } } : loaded(part);
      }
      case 'tool_call': {
        const call: Part = { functionCall: { name: part.name, args: argumentsObject(part.arguments) } };
        if (!signed) call.thoughtSignature = SKIP_SIGNATURE;
        signed = true;
        return call;
      }
      case 'tool_result':
        if (part.name === undefined) {
          throw new ModelProviderError('bad_request', `The tool result for call ${part.toolCallId} has no matching tool call in the conversation.`);
        }
        return { functionResponse: { name: part.name, response: responseObject(part.content) } };
    }
  });
}

/** A tool's result as a `functionResponse.response`: the JSON object it is, else `{output: text}`. */
function responseObject(content: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Not JSON: plain text output.
  }
  return { output: content };
}

/** A function definition as a `functionDeclarations` entry, its JSON Schema as `parametersJsonSchema`. */
function toDeclaration(tool: ToolDefinition): FunctionDeclaration {
  return { name: tool.name, ...(tool.description !== undefined && { description: tool.description }), parametersJsonSchema: tool.parameters };
}

/** Our tool choice as `functionCallingConfig`: `AUTO`, `NONE`, `ANY` (for `required`), or `ANY` limited to one name. */
function toToolConfig(choice: ToolChoice): ToolConfig {
  if (typeof choice === 'object') {
    return { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: [choice.name] } };
  }
  const mode = { auto: FunctionCallingConfigMode.AUTO, none: FunctionCallingConfigMode.NONE, required: FunctionCallingConfigMode.ANY }[choice];
  return { functionCallingConfig: { mode } };
}

/** The answer text of a candidate: its text parts, thought summaries left out. */
function answerTextOf(content: Content | undefined): string {
  return (content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('');
}

/**
 * The function calls of a candidate's content, whole, their `args` as JSON text; a call without an id gets one.
 * @param first the index the first of them takes in the answer
 */
function toolCallsOf(content: Content | undefined, first: number): ToolCallPart[] {
  return (content?.parts ?? [])
    .filter((p) => p.functionCall)
    .map((p, i) => ({
      type: 'tool_call' as const,
      id: p.functionCall!.id || generatedCallId(first + i),
      name: p.functionCall!.name ?? '',
      arguments: JSON.stringify(p.functionCall!.args ?? {}),
    }));
}

/** `tool_calls` when the answer ended normally with function calls (Gemini says `STOP` there). */
function withToolCalls(reason: FinishReason, calls: readonly ToolCallPart[]): FinishReason {
  return reason === 'stop' && calls.length ? 'tool_calls' : reason;
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
