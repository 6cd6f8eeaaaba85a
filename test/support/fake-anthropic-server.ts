import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { cut, FakeProvider, listen, retryAfter, scriptControl, sendJson, stallUntilClosed, untilClosed, writeEvent } from './fake-http';

export type { RecordedRequest } from './fake-http';

/** Usage as the Messages API reports it; the cache fields are sent only when set. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** What the fake server answers to one `POST /v1/messages`. Every field is optional. */
export interface AnthropicScript {
  /** Text deltas, in order; the non-streamed answer is one text block of their concatenation. */
  pieces?: string[];
  /** Pause before each piece, in ms (non-streamed: before the answer, once per piece). Default 0. */
  delayMs?: number;
  /** Pause before the response headers, in ms. Default 0. */
  headersDelayMs?: number;
  /** `stop_reason`. Default `end_turn`. */
  stopReason?: string;
  /**
   * Usage to report; `null` sends none. Default: `input_tokens` = ⌈characters of system and messages / 4⌉,
   * `output_tokens` = number of pieces.
   */
  usage?: AnthropicUsage | null;
  /** Answer with this HTTP error and Anthropic's error body instead of a message. */
  failure?: AnthropicFailure;
  /** Send an `error` event (inside the 200 stream) after this many pieces, then end the stream. */
  errorEvent?: { afterPieces: number; type: string; message?: string };
  /** Cut the stream after this many pieces: `destroy` kills the socket (default), `end` ends it cleanly. */
  cut?: { afterPieces: number; how?: 'destroy' | 'end' };
  /** Go quiet after this many pieces, the connection left open until the client closes it. */
  stall?: { afterPieces: number };
  /**
   * `tool_use` blocks to answer with, after the text (default pieces then: none, no text block). Streamed as the API
   * does: `content_block_start` with the block (`input: {}`), one `input_json_delta` per piece, `content_block_stop`;
   * `stop_reason` defaults to `tool_use`.
   */
  toolUses?: FakeToolUse[];
}

/** One `tool_use` block of a scripted answer. */
export interface FakeToolUse {
  /** Default `toolu_<random>`. */
  id?: string;
  name: string;
  input: Record<string, unknown>;
  /** The `partial_json` pieces; default: '' then the input's JSON text in two halves, as the API often begins. */
  pieces?: string[];
}

/** A message as the fake reads it. */
interface MessageBody {
  role?: string;
  content?: string | { type?: string; id?: string; tool_use_id?: string }[];
}

/** An HTTP error answer: `{"type":"error","error":{"type","message"},"request_id"}`. */
export interface AnthropicFailure {
  status: number;
  /** Default: the error type Anthropic sends with this status. */
  type?: string;
  message?: string;
  /** Value of the `retry-after` header. */
  retryAfter?: string;
}

/** A running fake server; see {@link startFakeAnthropic}. */
export interface FakeAnthropic extends FakeProvider<AnthropicScript> {
  /** Base URL to give the Anthropic SDK (no `/v1`), e.g. `http://127.0.0.1:41234`. */
  url: string;
}

const DEFAULT_PIECES = ['Hello', ' from', ' Claude'];

/** Error type and message per status (API reference, "Errors" → HTTP errors). */
const ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'messages: roles must alternate between "user" and "assistant"' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'model: claude-nope' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
  500: { type: 'api_error', message: 'Internal server error' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

/**
 * Starts a local stand-in for Anthropic's Messages API on a random loopback port, speaking its wire protocol
 * (API reference "Messages" and "Streaming Messages"):
 *
 * - `POST /v1/messages` needs the key (when `options.apiKey` is set) as `x-api-key` or, as the current SDK sends
 *   it, `Authorization: Bearer <key>`, and an `anthropic-version` header.
 * - `stream: true`: `text/event-stream` of named events: `message_start` (with input usage), `content_block_start`,
 *   `ping`, one `content_block_delta` (`text_delta`) per piece, `content_block_stop`, `message_delta`
 *   (`stop_reason` and cumulative output usage), `message_stop`; or an `error` event mid-stream.
 * - otherwise one `message` JSON object.
 * - scripted `tool_use` blocks, streamed with `input_json_delta` pieces.
 * - 400 `invalid_request_error` as the API answers for roles that do not alternate, `tool_use` or `tool_result`
 *   blocks in a request without `tools`, a `tool_use` not answered by a `tool_result` in the next message, and a
 *   `tool_result` whose `tool_use` is not in the previous message.
 * - errors: `{"type":"error","error":{"type","message"}}` with the status's error type and `retry-after` if set.
 */
export async function startFakeAnthropic(options: { apiKey?: string } = {}): Promise<FakeAnthropic> {
  const control = scriptControl<AnthropicScript>();
  const server = await listen(handle);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await control.receive(req, res);
    if (req.method !== 'POST' || recorded.path !== '/v1/messages') {
      return sendError(res, { status: 404, message: `Not Found: ${req.method} ${recorded.path}` });
    }
    const key = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    if (options.apiKey !== undefined && key !== options.apiKey) return sendError(res, { status: 401 });
    if (!req.headers['anthropic-version']) {
      return sendError(res, { status: 400, message: 'anthropic-version: header is required' });
    }
    const body = recorded.body as { model?: string; max_tokens?: number; stream?: boolean; system?: string; tools?: unknown[]; messages?: MessageBody[] };
    if (typeof body?.max_tokens !== 'number') return sendError(res, { status: 400, message: 'max_tokens: Field required' });
    const refused = conversationRuleBroken(body.messages ?? [], Boolean(body.tools?.length));
    if (refused) return sendError(res, { status: 400, message: refused });
    const script = control.next(recorded);
    if (script.failure) return sendError(res, script.failure);

    const { signal, delay } = untilClosed(res);
    if (script.headersDelayMs) await delay(script.headersDelayMs);
    const toolUses = (script.toolUses ?? []).map((t) => ({ ...t, id: t.id ?? `toolu_${randomBytes(12).toString('hex')}` }));
    const pieces = script.pieces ?? (toolUses.length ? [] : DEFAULT_PIECES);
    const stopReason = script.stopReason ?? (toolUses.length ? 'tool_use' : 'end_turn');
    const usage = script.usage === undefined ? defaultUsage(body, pieces) : script.usage;
    const id = `msg_${randomBytes(12).toString('hex')}`;
    const message = { id, type: 'message', role: 'assistant', model: body.model, stop_sequence: null };
    const withText = pieces.length > 0 || !toolUses.length;

    if (!body.stream) {
      await delay((script.delayMs ?? 0) * pieces.length);
      return sendJson(res, 200, {
        ...message,
        content: [
          ...(withText ? [{ type: 'text', text: pieces.join('') }] : []),
          ...toolUses.map((t) => ({ type: 'tool_use', id: t.id, name: t.name, input: t.input, caller: { type: 'direct' } })),
        ],
        stop_reason: stopReason,
        ...(usage && { usage }),
      });
    }

    const send = (event: string, data: object) => writeEvent(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'request-id': `req_${id}` });
    const startUsage = usage && { ...usage, output_tokens: 1 };
    await send('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, ...(startUsage && { usage: startUsage }) } });
    if (withText) await send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    await send('ping', { type: 'ping' });
    for (const [i, text] of pieces.entries()) {
      if (script.cut && i === script.cut.afterPieces) return cut(res, script.cut.how);
      if (script.errorEvent && i === script.errorEvent.afterPieces) return errorEvent(res, script.errorEvent);
      if (script.stall && i === script.stall.afterPieces) return stallUntilClosed(signal);
      if (script.delayMs) await delay(script.delayMs);
      await send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
    }
    if (script.cut && script.cut.afterPieces >= pieces.length) return cut(res, script.cut.how);
    if (script.errorEvent) return errorEvent(res, script.errorEvent);
    if (withText) await send('content_block_stop', { type: 'content_block_stop', index: 0 });
    for (const [i, tool] of toolUses.entries()) {
      const index = i + (withText ? 1 : 0);
      const json = JSON.stringify(tool.input);
      const parts = tool.pieces ?? ['', json.slice(0, json.length >> 1), json.slice(json.length >> 1)];
      const block = { type: 'tool_use', id: tool.id, name: tool.name, input: {}, caller: { type: 'direct' } };
      await send('content_block_start', { type: 'content_block_start', index, content_block: block });
      for (const partial_json of parts) {
        await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
      }
      await send('content_block_stop', { type: 'content_block_stop', index });
    }
    await send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      ...(usage && { usage: { output_tokens: usage.output_tokens } }),
    });
    await send('message_stop', { type: 'message_stop' });
    res.end();
  }

  async function errorEvent(res: ServerResponse, e: { type: string; message?: string }): Promise<void> {
    await writeEvent(res, `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: e.type, message: e.message ?? 'Overloaded' } })}\n\n`);
    res.end();
  }

  const { requests, script, reset } = control;
  return { url: `http://127.0.0.1:${server.port}`, requests, script, reset, close: server.close };
}

/**
 * The 400 message the API sends for a conversation that breaks its turn rules (roles alternate; tool blocks need
 * `tools`; each `tool_use` is answered by a `tool_result` in the next message, and each `tool_result` answers a
 * `tool_use` of the previous one); undefined when it keeps them.
 */
function conversationRuleBroken(messages: MessageBody[], hasTools: boolean): string | undefined {
  const blocks = (m: MessageBody | undefined) => (typeof m?.content === 'string' || !m?.content ? [] : m.content);
  const toolUseIds = (m: MessageBody | undefined) => new Set(blocks(m).flatMap((b) => (b.type === 'tool_use' ? [b.id ?? ''] : [])));
  for (const [i, message] of messages.entries()) {
    if (i > 0 && messages[i - 1].role === message.role) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${message.role}" roles in a row`;
    }
    const types = blocks(message).map((b) => b.type);
    if (!hasTools && (types.includes('tool_use') || types.includes('tool_result'))) {
      return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
    }
    const asked = toolUseIds(messages[i - 1]);
    for (const [j, block] of blocks(message).entries()) {
      if (block.type === 'tool_result' && !asked.has(block.tool_use_id ?? '')) {
        return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
    }
    const answered = new Set(blocks(messages[i + 1]).flatMap((b) => (b.type === 'tool_result' ? [b.tool_use_id ?? ''] : [])));
    const missing = [...toolUseIds(message)].filter((id) => !answered.has(id));
    if (missing.length && i + 1 < messages.length) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
  }
  return undefined;
}

function defaultUsage(body: { system?: string; messages?: MessageBody[] }, pieces: string[]): AnthropicUsage {
  const chars = (body.system ?? '').length + (body.messages ?? []).reduce((n, m) => n + (typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? '')).length, 0);
  return { input_tokens: Math.ceil(chars / 4), output_tokens: pieces.length };
}

function sendError(res: ServerResponse, failure: Partial<AnthropicFailure> & { status: number }): void {
  const known = ERRORS[failure.status] ?? ERRORS[failure.status >= 500 ? 500 : 400];
  sendJson(
    res,
    failure.status,
    { type: 'error', error: { type: failure.type ?? known.type, message: failure.message ?? known.message }, request_id: `req_${randomBytes(8).toString('hex')}` },
    retryAfter(failure.retryAfter),
  );
}
