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
    const body = recorded.body as { model?: string; max_tokens?: number; stream?: boolean; system?: string; messages?: { content: string }[] };
    if (typeof body?.max_tokens !== 'number') return sendError(res, { status: 400, message: 'max_tokens: Field required' });
    const script = control.next(recorded);
    if (script.failure) return sendError(res, script.failure);

    const { signal, delay } = untilClosed(res);
    if (script.headersDelayMs) await delay(script.headersDelayMs);
    const pieces = script.pieces ?? DEFAULT_PIECES;
    const usage = script.usage === undefined ? defaultUsage(body, pieces) : script.usage;
    const id = `msg_${randomBytes(12).toString('hex')}`;
    const message = { id, type: 'message', role: 'assistant', model: body.model, stop_sequence: null };

    if (!body.stream) {
      await delay((script.delayMs ?? 0) * pieces.length);
      return sendJson(res, 200, {
        ...message,
        content: [{ type: 'text', text: pieces.join('') }],
        stop_reason: script.stopReason ?? 'end_turn',
        ...(usage && { usage }),
      });
    }

    const send = (event: string, data: object) => writeEvent(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'request-id': `req_${id}` });
    const startUsage = usage && { ...usage, output_tokens: 1 };
    await send('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, ...(startUsage && { usage: startUsage }) } });
    await send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
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
    await send('content_block_stop', { type: 'content_block_stop', index: 0 });
    await send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: script.stopReason ?? 'end_turn', stop_sequence: null },
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

function defaultUsage(body: { system?: string; messages?: { content: string }[] }, pieces: string[]): AnthropicUsage {
  const chars = (body.system ?? '').length + (body.messages ?? []).reduce((n, m) => n + String(m.content).length, 0);
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
