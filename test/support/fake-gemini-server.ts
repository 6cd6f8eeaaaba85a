import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { cut, FakeProvider, listen, retryAfter, scriptControl, sendJson, stallUntilClosed, untilClosed, writeEvent } from './fake-http';

export type { RecordedRequest } from './fake-http';

/** `usageMetadata` as the Gemini API reports it; optional counts are sent only when set. */
export interface GeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
}

/** What the fake server answers to one `generateContent` / `streamGenerateContent`. Every field is optional. */
export interface GeminiScript {
  /** Text parts, one chunk each; the non-streamed answer is one part of their concatenation. */
  pieces?: string[];
  /** Thought-summary parts (`thought: true`) sent before the text. */
  thoughts?: string[];
  /** Pause before each piece, in ms (non-streamed: before the answer, once per piece). Default 0. */
  delayMs?: number;
  /** Pause before the response headers, in ms. Default 0. */
  headersDelayMs?: number;
  /** `finishReason` of the last chunk. Default `STOP`. */
  finishReason?: string;
  /** `promptFeedback.blockReason`: the prompt was blocked, no candidates. */
  blockReason?: string;
  /** Usage to report on the last chunk; `null` sends none. Default: ⌈characters / 4⌉ prompt, pieces candidates. */
  usage?: GeminiUsage | null;
  /** Answer with this HTTP error and Google's error body. */
  failure?: GeminiFailure;
  /** Send an error chunk (`data: {"error":…}`) inside the 200 stream after this many pieces, then end. */
  errorChunk?: { afterPieces: number; status: number };
  /** Cut the stream after this many pieces: `destroy` kills the socket (default), `end` ends it cleanly. */
  cut?: { afterPieces: number; how?: 'destroy' | 'end' };
  /** Go quiet after this many pieces, the connection left open until the client closes it. */
  stall?: { afterPieces: number };
  /**
   * Function calls to answer with, after the text (default pieces then: none), all in one chunk as Gemini streams
   * them, the first with a `thoughtSignature` as Gemini 3 sends; `finishReason` stays `STOP`, as Gemini says.
   */
  functionCalls?: { name: string; args: Record<string, unknown>; id?: string }[];
}

/** A content as the fake reads it. */
interface ContentBody {
  role?: string;
  parts?: { text?: string; functionCall?: { name?: string }; functionResponse?: { name?: string }; thoughtSignature?: string }[];
}

/** An HTTP error answer: `{"error":{"code","message","status","details"}}`. */
export interface GeminiFailure {
  status: number;
  message?: string;
  /** Value of the `retry-after` header. */
  retryAfter?: string;
  /** A `google.rpc.RetryInfo` detail with this `retryDelay` (e.g. `"7s"`), as Google sends with a 429. */
  retryDelay?: string;
}

/** A running fake server; see {@link startFakeGemini}. */
export interface FakeGemini extends FakeProvider<GeminiScript> {
  /** Base URL to give the Gemini SDK (no version), e.g. `http://127.0.0.1:41234`. */
  url: string;
}

const DEFAULT_PIECES = ['Hello', ' from', ' Gemini'];

/** Google's canonical status name and a typical message per HTTP status (Gemini API "Troubleshooting"). */
const STATUSES: Record<number, { status: string; message: string }> = {
  400: { status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' },
  403: { status: 'PERMISSION_DENIED', message: 'The caller does not have permission' },
  404: { status: 'NOT_FOUND', message: 'models/gemini-nope is not found for API version v1beta' },
  429: { status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' },
  500: { status: 'INTERNAL', message: 'An internal error has occurred.' },
  503: { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' },
};

const PATH = /^\/v1beta\/models\/([^/:?]+):(generateContent|streamGenerateContent)(\?alt=sse)?$/;

/**
 * Starts a local stand-in for the Gemini API on a random loopback port, speaking its wire protocol (API reference
 * "Generating content"):
 *
 * - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`: `data: <GenerateContentResponse>` events, one per
 *   piece (`candidates[0].content.parts[0].text`, role `model`), the last with `finishReason` and `usageMetadata`.
 * - `POST /v1beta/models/{model}:generateContent`: one `GenerateContentResponse`.
 * - a wrong or missing `x-goog-api-key` (when `options.apiKey` is set): 400 `API_KEY_INVALID`, as Google answers.
 * - scripted function calls as `functionCall` parts.
 * - 400 `INVALID_ARGUMENT` as Google answers when a turn's function responses do not match the calls of the
 *   model turn before it, and, for `gemini-3…` models, when a model turn's first function call has no
 *   `thoughtSignature`.
 * - errors: `{"error":{"code","message","status"}}`.
 */
export async function startFakeGemini(options: { apiKey?: string } = {}): Promise<FakeGemini> {
  const control = scriptControl<GeminiScript>();
  const server = await listen(handle);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await control.receive(req, res);
    const match = PATH.exec(recorded.path);
    if (req.method !== 'POST' || !match) return sendError(res, { status: 404, message: `Not found: ${recorded.path}` });
    if (options.apiKey !== undefined && req.headers['x-goog-api-key'] !== options.apiKey) {
      return sendJson(res, 400, {
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
        },
      });
    }
    const [, model, method] = match;
    const streamed = method === 'streamGenerateContent';
    if (streamed && !match[3]) return sendError(res, { status: 400, message: 'This fake speaks only alt=sse.' });
    const body = recorded.body as { contents?: ContentBody[]; systemInstruction?: ContentBody };
    const refused = functionRuleBroken(model, body.contents ?? []);
    if (refused) return sendError(res, { status: 400, message: refused });
    const script = control.next(recorded);
    if (script.failure) return sendError(res, script.failure);

    const { signal, delay } = untilClosed(res);
    if (script.headersDelayMs) await delay(script.headersDelayMs);
    const pieces = script.pieces ?? (script.functionCalls?.length ? [] : DEFAULT_PIECES);
    const callParts = (script.functionCalls ?? []).map((functionCall, i) => ({
      functionCall,
      ...(i === 0 && { thoughtSignature: randomBytes(24).toString('base64') }),
    }));
    const usage = script.usage === undefined ? defaultUsage(body, pieces) : script.usage;
    const meta = { modelVersion: model, responseId: randomBytes(8).toString('hex') };
    const usageMetadata = usage && {
      usageMetadata: {
        ...usage,
        totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount + (usage.thoughtsTokenCount ?? 0),
      },
    };
    const thoughtParts = (script.thoughts ?? []).map((text) => ({ text, thought: true }));
    const candidate = (parts: object[], finishReason?: string) => ({
      candidates: [{ content: { parts, role: 'model' }, ...(finishReason && { finishReason }), index: 0 }],
    });

    if (!streamed) {
      await delay((script.delayMs ?? 0) * pieces.length);
      if (script.blockReason) return sendJson(res, 200, { promptFeedback: { blockReason: script.blockReason }, ...usageMetadata, ...meta });
      return sendJson(res, 200, {
        ...candidate([...thoughtParts, ...(pieces.length || !callParts.length ? [{ text: pieces.join('') }] : []), ...callParts], script.finishReason ?? 'STOP'),
        ...usageMetadata,
        ...meta,
      });
    }

    // Google separates events with CRLF pairs.
    const send = (data: object) => writeEvent(res, `data: ${JSON.stringify(data)}\r\n\r\n`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    if (script.blockReason) {
      await send({ promptFeedback: { blockReason: script.blockReason }, ...usageMetadata, ...meta });
      return void res.end();
    }
    if (thoughtParts.length) await send({ ...candidate(thoughtParts), ...meta });
    for (const [i, text] of pieces.entries()) {
      if (script.cut && i === script.cut.afterPieces) return cut(res, script.cut.how);
      if (script.errorChunk && i === script.errorChunk.afterPieces) return errorChunk(res, script.errorChunk.status);
      if (script.stall && i === script.stall.afterPieces) return stallUntilClosed(signal);
      if (script.delayMs) await delay(script.delayMs);
      await send({ ...candidate([{ text }]), ...meta });
    }
    if (script.cut && script.cut.afterPieces >= pieces.length) return cut(res, script.cut.how);
    if (script.errorChunk) return errorChunk(res, script.errorChunk.status);
    if (callParts.length) await send({ ...candidate(callParts), ...meta });
    await send({ ...candidate([{ text: '' }], script.finishReason ?? 'STOP'), ...usageMetadata, ...meta });
    res.end();
  }

  async function errorChunk(res: ServerResponse, status: number): Promise<void> {
    const known = STATUSES[status] ?? STATUSES[500];
    await writeEvent(res, `data: ${JSON.stringify({ error: { code: status, message: known.message, status: known.status } })}\r\n\r\n`);
    res.end();
  }

  const { requests, script, reset } = control;
  return { url: `http://127.0.0.1:${server.port}`, requests, script, reset, close: server.close };
}

/**
 * The 400 message Google sends when a turn's function responses do not answer the function calls of the model turn
 * before it, or (Gemini 3) a model turn's first function call carries no thought signature; undefined otherwise.
 */
function functionRuleBroken(model: string, contents: ContentBody[]): string | undefined {
  for (const [i, content] of contents.entries()) {
    const parts = content.parts ?? [];
    const calls = parts.filter((p) => p.functionCall);
    if (content.role === 'model' && calls.length && model.startsWith('gemini-3') && !calls[0].thoughtSignature) {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly. Additional data, function call \`${calls[0].functionCall?.name}\` , position ${i + 1}.`;
    }
    const responses = parts.filter((p) => p.functionResponse);
    if (!responses.length) continue;
    const asked = (contents[i - 1]?.parts ?? []).filter((p) => p.functionCall);
    if (contents[i - 1]?.role !== 'model' || asked.length !== responses.length) {
      return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
    }
  }
  return undefined;
}

function defaultUsage(body: { contents?: ContentBody[]; systemInstruction?: ContentBody }, pieces: string[]): GeminiUsage {
  const texts = [...(body.contents ?? []), body.systemInstruction ?? {}].flatMap((c) => (c.parts ?? []).map((p) => p.text ?? ''));
  return { promptTokenCount: Math.ceil(texts.join('').length / 4), candidatesTokenCount: pieces.length };
}

function sendError(res: ServerResponse, failure: GeminiFailure): void {
  const known = STATUSES[failure.status] ?? STATUSES[failure.status >= 500 ? 500 : 400];
  const details = failure.retryDelay
    ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: failure.retryDelay }]
    : undefined;
  sendJson(
    res,
    failure.status,
    { error: { code: failure.status, message: failure.message ?? known.message, status: known.status, ...(details && { details }) } },
    retryAfter(failure.retryAfter),
  );
}
