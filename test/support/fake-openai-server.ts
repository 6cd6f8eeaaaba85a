import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { cut, FakeProvider, listen, retryAfter, scriptControl, sendJson, untilClosed, writeEvent } from './fake-http';

export type { RecordedRequest } from './fake-http';

/** What the fake server answers to one `POST /v1/chat/completions`. Every field is optional. */
export interface FakeScript {
  /** Content deltas, in order; the non-streamed answer is their concatenation. Default `['Hello', ' world!']`. */
  pieces?: string[];
  /** Pause before each piece, in ms (non-streamed: before the answer, once per piece). Default 0. */
  delayMs?: number;
  /** Pause before piece i, in ms, for a stream that stalls at one point; overrides `delayMs` where given. */
  delaysMs?: number[];
  /** Pause before the response headers are sent, in ms (a provider slow to accept the request). Default 0. */
  headersDelayMs?: number;
  /** `finish_reason` of the last choice. Default `'stop'`. */
  finishReason?: string;
  /**
   * Token counts to report; `null` sends none (no usage chunk, no `usage` field).
   * Default: `prompt_tokens` = ⌈characters of all message contents / 4⌉, `completion_tokens` = number of pieces.
   */
  usage?: FakeUsage | null;
  /** Answer with this HTTP error and OpenAI's error body instead of a completion. */
  failure?: FakeFailure;
  /**
   * Cut the stream after this many content pieces: `destroy` kills the socket mid-response (default), `end`
   * ends the response cleanly without a finish chunk or `[DONE]`.
   */
  cut?: { afterPieces: number; how?: 'destroy' | 'end' };
  /** End the stream after the finish (and usage) chunk without sending `data: [DONE]`. */
  omitDone?: boolean;
  /**
   * Function calls to answer with, after the content pieces (default pieces then: none). Streamed as OpenAI does:
   * per call, a first `delta.tool_calls` chunk with its `index`, `id`, `type` and name (arguments ''), then one chunk
   * per arguments piece; `finish_reason` defaults to `tool_calls`.
   */
  toolCalls?: FakeToolCall[];
}

/** One function call of a scripted answer. */
export interface FakeToolCall {
  /** Default `call_<random>`. */
  id?: string;
  name: string;
  /** The arguments' JSON text in the pieces it is streamed in (joined for a non-streamed answer). */
  arguments: string[];
}

/** Usage as Chat Completions reports it; the details objects are sent only when set. */
export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

/** An HTTP error answer, in OpenAI's format: `{"error":{"message","type","param":null,"code"}}`. */
export interface FakeFailure {
  status: number;
  /** Default: the message OpenAI sends for this status. */
  message?: string;
  type?: string;
  code?: string | null;
  /** Value of the `retry-after` header (sent with any status when set). */
  retryAfter?: string;
}

/** A running fake server; see {@link startFakeOpenAi}. */
export interface FakeOpenAi extends FakeProvider<FakeScript> {
  /** Base URL to give an OpenAI client, ending in `/v1`, e.g. `http://127.0.0.1:41234/v1`. */
  url: string;
}

const DEFAULT_PIECES = ['Hello', ' world!'];

/** The request fields the fake server reads. */
interface ChatCompletionBody {
  model?: string;
  max_tokens?: number;
  messages?: { role?: string; content?: unknown; tool_calls?: { id?: string }[]; tool_call_id?: string }[];
  tools?: unknown[];
  tool_choice?: unknown;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

/** Models that, like OpenAI's reasoning models, refuse `max_tokens` (they take `max_completion_tokens`). */
const REASONING_MODEL = /^(gpt-5|o\d)/;

/** What OpenAI says for each error status (type, code, message), from its API reference "Error codes". */
const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist or you do not have access to it.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again later.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later.' },
};

/**
 * Starts a local stand-in for OpenAI's Chat Completions API on a random loopback port, speaking the real wire
 * protocol (API reference "Create chat completion" and "The chat completion chunk object"):
 *
 * - `POST /v1/chat/completions` with `stream: true`: `text/event-stream` of `data: <chunk>` events: a role chunk,
 *   one chunk per content piece, a finish chunk (`delta: {}`), a usage chunk with `choices: []` when
 *   `stream_options.include_usage` is set (other chunks then carry `"usage": null`), then `data: [DONE]`.
 * - without `stream`: one `chat.completion` JSON object with `usage`.
 * - scripted function calls as `delta.tool_calls` pieces (streamed) or `message.tool_calls`.
 * - 400 as OpenAI answers for a `tool` message that does not answer the assistant's `tool_calls` just before it,
 *   an assistant's call left without its `tool` message, or a `tool_choice` without `tools`.
 * - anything else: 404 in OpenAI's error format.
 *
 * Answers follow {@link FakeOpenAi.script}; every request is recorded with when its response closed, so a test
 * can tell that a client abort closed the upstream socket.
 * @param options.apiKey when set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401
 */
export async function startFakeOpenAi(options: { apiKey?: string } = {}): Promise<FakeOpenAi> {
  const control = scriptControl<FakeScript>();
  const server = await listen(handle);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await control.receive(req, res);
    if (req.method !== 'POST' || recorded.path !== '/v1/chat/completions') {
      return sendError(res, { status: 404, message: `Invalid URL (${req.method} ${recorded.path})`, code: null });
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, { status: 401 });
    }
    if (typeof recorded.body !== 'object' || recorded.body === null) {
      return sendError(res, { status: 400, message: 'We could not parse the JSON body of your request.' });
    }
    const refused = toolRuleBroken(recorded.body as ChatCompletionBody);
    if (refused) return sendError(res, { status: 400, message: refused, code: null });
    const script = control.next(recorded);
    if (script.failure) return sendError(res, script.failure);
    const asked = recorded.body as ChatCompletionBody;
    if (asked.max_tokens !== undefined && REASONING_MODEL.test(asked.model ?? '')) {
      return sendError(res, {
        status: 400,
        message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        code: 'unsupported_parameter',
      });
    }

    const { delay } = untilClosed(res);
    const body = recorded.body as ChatCompletionBody;
    const calls = (script.toolCalls ?? []).map((c) => ({ ...c, id: c.id ?? `call_${randomBytes(12).toString('hex')}` }));
    const pieces = script.pieces ?? (calls.length ? [] : DEFAULT_PIECES);
    const finishReason = script.finishReason ?? (calls.length ? 'tool_calls' : 'stop');
    const usage = script.usage === undefined ? defaultUsage(body, pieces) : script.usage;
    const meta = {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'unknown',
      system_fingerprint: 'fp_fake',
    };
    if (script.headersDelayMs) await delay(script.headersDelayMs);

    if (!body.stream) {
      await delay((script.delayMs ?? 0) * pieces.length);
      const content = pieces.join('');
      return sendJson(res, 200, {
        ...meta,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: calls.length && !content ? null : content,
              refusal: null,
              annotations: [],
              ...(calls.length && {
                tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments.join('') } })),
              }),
            },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        ...(usage && { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
      });
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (delta: object, finishReason: string | null) => ({
      ...meta,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage && { usage: null }),
    });
    const send = (data: object | string) => writeEvent(res, `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);

    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    await send(chunk({ role: 'assistant', content: '', refusal: null }, null));
    for (const [i, content] of pieces.entries()) {
      if (script.cut && i === script.cut.afterPieces) return cut(res, script.cut.how);
      const pause = script.delaysMs?.[i] ?? script.delayMs;
      if (pause) await delay(pause);
      await send(chunk({ content }, null));
    }
    if (script.cut && script.cut.afterPieces >= pieces.length) return cut(res, script.cut.how);
    for (const [index, call] of calls.entries()) {
      await send(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }, null));
      for (const piece of call.arguments) await send(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null));
    }
    await send(chunk({}, finishReason));
    if (includeUsage && usage) {
      await send({ ...meta, object: 'chat.completion.chunk', choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
    }
    if (!script.omitDone) await send('[DONE]');
    res.end();
  }

  const { requests, script, reset } = control;
  return { url: `http://127.0.0.1:${server.port}/v1`, requests, script, reset, close: server.close };
}

function defaultUsage(body: ChatCompletionBody, pieces: string[]) {
  const chars = (body.messages ?? []).reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : 0), 0);
  return { prompt_tokens: Math.ceil(chars / 4), completion_tokens: pieces.length };
}

/**
 * The 400 message OpenAI sends for a conversation that breaks the tool-call rules (every `tool` message answers a
 * call of the assistant message before the `tool` run, every call gets its answer; `tool_choice` needs `tools`);
 * undefined when it keeps them.
 */
function toolRuleBroken(body: ChatCompletionBody): string | undefined {
  if (body.tool_choice !== undefined && !body.tools?.length) {
    return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.";
  }
  const unanswered = (ids: Set<string>) =>
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...ids].join(', ')}`;
  let open: Set<string> | undefined;
  for (const [i, message] of (body.messages ?? []).entries()) {
    if (message.role === 'tool') {
      if (!open?.delete(message.tool_call_id ?? '')) {
        return `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages.[${i}])`;
      }
      continue;
    }
    if (open?.size) return unanswered(open);
    open = message.role === 'assistant' && message.tool_calls?.length ? new Set(message.tool_calls.map((c) => c.id ?? '')) : undefined;
  }
  return open?.size ? unanswered(open) : undefined;
}

function sendError(res: ServerResponse, failure: Partial<FakeFailure> & { status: number }): void {
  const known = OPENAI_ERRORS[failure.status] ?? OPENAI_ERRORS[failure.status >= 500 ? 500 : 400];
  const error = {
    message: failure.message ?? known.message,
    type: failure.type ?? known.type,
    param: null,
    code: failure.code !== undefined ? failure.code : known.code,
  };
  sendJson(res, failure.status, { error }, retryAfter(failure.retryAfter));
}
