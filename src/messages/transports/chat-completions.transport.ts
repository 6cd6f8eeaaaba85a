import { advertiseQuotas } from '../../rate-limit/rate-limit-headers';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { abortOnClientClose } from '../../common/abort-on-close';
import { AuthenticatedUser } from '../../common/authenticated-user';
import { toOpenAiError } from '../../common/openai-error';
import { invalidField, ProblemException } from '../../common/problem';
import { problemOf } from '../../common/problem-details';
import { AppConfig, appConfig } from '../../config/app-config';
import { UnknownModelError } from '../../providers/model-registry';
import { AnswerEvent } from '../../streams/answer-log';
import { DonePayload, usageDto } from '../answer-events';
import { TurnEvent, TurnRequest } from '../chat-turn.service';
import { UsageDto } from '../dto/chat-completion.dto';
import {
  OPENAI_FINISH_REASONS,
  OpenAiChatCompletionChunkDto,
  OpenAiChatCompletionDto,
  OpenAiChatCompletionRequestDto,
  OpenAiFinishReason,
  OpenAiToolCallDeltaDto,
  OpenAiToolCallDto,
  OpenAiUsageDto,
} from '../dto/openai-chat.dto';
import { toolChoiceOf, toolsOf, turnMessageOf } from '../dto/content-parts.dto';
import { GenerationsService } from '../generations.service';
import { OpenAiChunkWriter } from './openai-chunk-writer';

/** An answer's events as this transport reads them, from the turn engine (stateless) or an answer's log (stored). */
type CompletionEvent =
  | { type: 'start'; model: string }
  | { type: 'delta'; text: string }
  | { type: 'tool_call_delta'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'tool_call'; index: number; id: string; name: string; arguments: string }
  | { type: 'done'; model: string; finishReason: string; usage: UsageDto }
  | { type: 'failed'; error: Error };

/**
 * The turn a Chat Completions request asks for. `developer` messages are system messages; content parts and
 * `tool_calls` become the message's parts (its text: the text parts joined); `max_completion_tokens` wins over
 * `max_tokens`; with `store`, `user` is kept as `metadata.user` unless the metadata names one.
 * @throws 422 (answered 400 on this route) `stream_options` without `stream: true`
 */
export function turnRequestOf(dto: OpenAiChatCompletionRequestDto): TurnRequest {
  if (dto.stream_options && dto.stream !== true) throw invalidField('stream_options', 'is only allowed when stream is true');
  const metadata = dto.store ? { ...(dto.user !== undefined && { user: dto.user }), ...dto.metadata } : undefined;
  return {
    model: dto.model,
    messages: dto.messages.map((m, i) =>
      turnMessageOf({ ...m, role: m.role === 'developer' ? 'system' : m.role }, i),
    ),
    tools: toolsOf(dto.tools),
    tool_choice: toolChoiceOf(dto.tool_choice),
    temperature: dto.temperature,
    top_p: dto.top_p,
    stop: typeof dto.stop === 'string' ? [dto.stop] : dto.stop,
    max_tokens: dto.max_completion_tokens ?? dto.max_tokens,
    stream: dto.stream === true,
    stateless: !dto.store,
    metadata,
  };
}

/** Our usage in OpenAI's `usage` object. */
export function openAiUsage(u: UsageDto): OpenAiUsageDto {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens },
  };
}

/** A finish reason in OpenAI's values: an answer stopped by a cancel reads `stop`. */
function openAiFinishReason(reason: string): OpenAiFinishReason {
  return (OPENAI_FINISH_REASONS as readonly string[]).includes(reason) ? (reason as OpenAiFinishReason) : 'stop';
}

/** The turn engine's events (a stateless send), read to their end. */
async function* fromTurn(events: AsyncIterable<TurnEvent>): AsyncGenerator<CompletionEvent> {
  for await (const e of events) {
    if (e.type === 'started') yield { type: 'start', model: e.model };
    else if (e.type === 'delta' || e.type === 'tool_call_delta' || e.type === 'tool_call') yield e;
    else if (e.type === 'done') yield { type: 'done', model: e.model, finishReason: e.finishReason, usage: usageDto(e.usage) };
    else if (e.type === 'failed') yield { type: 'failed', error: e.error };
  }
}

/** A stored answer's log, until its end; nothing more when the client left (the answer is stored `incomplete`). */
async function* fromLog(events: AsyncIterable<AnswerEvent | null>, failure: () => Error | undefined): AsyncGenerator<CompletionEvent> {
  for await (const e of events) {
    if (!e) continue;
    if (e.type === 'start') yield { type: 'start', model: e.data.model as string };
    else if (e.type === 'delta') yield { type: 'delta', text: e.data.text as string };
    else if (e.type === 'tool_call_delta') yield { type: 'tool_call_delta', ...(e.data as Omit<Extract<CompletionEvent, { type: 'tool_call_delta' }>, 'type'>) };
    else if (e.type === 'tool_call') yield { type: 'tool_call', ...(e.data as Omit<Extract<CompletionEvent, { type: 'tool_call' }>, 'type'>) };
    else if (e.type === 'done') {
      const d = e.data as DonePayload;
      if (d.status !== 'incomplete') yield { type: 'done', model: d.model, finishReason: d.finish_reason, usage: d.usage };
      return;
    } else if (e.type === 'error') {
      yield { type: 'failed', error: failure() ?? new ProblemException(e.data.status as number, e.data.detail as string) };
      return;
    }
  }
}

/**
 * The HTTP edge of `POST /v1/chat/completions`: OpenAI's Chat Completions wire format over the turn engine.
 * Stateless by default (the engine's `stateless` mode: usage in the ledger, no session); `store: true` runs a
 * stored, durable answer like `POST /v1/chat/stream` and names its session in `X-Session-Id`. The answer is one
 * `chat.completion` object, or (`stream: true`) `chat.completion.chunk` events then `data: [DONE]`. Errors before
 * the first byte are thrown (the exception filter answers them in OpenAI's error body); after it they are a
 * `data: {"error": {…}}` event.
 */
@Injectable()
export class ChatCompletionsTransport {
  constructor(
    private readonly generations: GenerationsService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** Answers `POST /v1/chat/completions` on `res`. */
  async create(user: AuthenticatedUser, dto: OpenAiChatCompletionRequestDto, req: Request, res: Response): Promise<void> {
    const request = turnRequestOf(dto);
    const meta = { id: `chatcmpl-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000) };
    const client = abortOnClientClose(res);
    let sent = '';
    try {
      let events: AsyncIterable<CompletionEvent>;
      try {
        if (dto.store) {
          const answer = await this.generations.start(user, request, {
            background: false,
            clientSignal: client.signal,
            delivered: dto.stream ? () => sent : undefined,
            path: req.originalUrl,
          });
          res.setHeader('X-Session-Id', String(answer.sessionId));
          advertiseQuotas(res, answer.quotas);
          events = fromLog(answer.events, answer.error);
        } else {
          const stateless = await this.generations.runStateless(user, request, client.signal);
          advertiseQuotas(res, stateless.quotas);
          events = fromTurn(stateless.events);
        }
      } catch (err) {
        if (err instanceof UnknownModelError) {
          throw new ProblemException(HttpStatus.NOT_FOUND, err.message, { code: 'model_not_found', param: 'model' });
        }
        throw err;
      }
      if (dto.stream) await this.stream(events, meta, dto.stream_options?.include_usage === true, req, res, (text) => (sent += text));
      else await this.json(events, meta, res);
    } finally {
      client.dispose();
    }
  }

  /** One `chat.completion` object; a failure is thrown (nothing was written yet). */
  private async json(events: AsyncIterable<CompletionEvent>, meta: { id: string; created: number }, res: Response): Promise<void> {
    let text = '';
    const calls: OpenAiToolCallDto[] = [];
    let failure: Error | undefined;
    let body: OpenAiChatCompletionDto | undefined;
    for await (const e of events) {
      if (e.type === 'delta') text += e.text;
      else if (e.type === 'tool_call') calls.push({ id: e.id, type: 'function', function: { name: e.name, arguments: e.arguments } });
      else if (e.type === 'failed') failure = e.error;
      else if (e.type === 'done') {
        // As OpenAI answers: content null when the answer is only tool calls, `tool_calls` only when there are some.
        const message = { role: 'assistant' as const, content: text || !calls.length ? text : null, refusal: null, ...(calls.length && { tool_calls: calls }) };
        body = {
          ...meta,
          object: 'chat.completion',
          model: e.model,
          choices: [{ index: 0, message, finish_reason: openAiFinishReason(e.finishReason), logprobs: null }],
          usage: openAiUsage(e.usage),
        };
      }
    }
    if (failure) throw failure;
    if (body && !res.destroyed) res.status(200).json(body);
  }

  /**
   * `chat.completion.chunk` events: the role, the text and tool-call pieces (`delta.tool_calls`, the call's `id`,
   * `type` and name with its first piece), the finish, the usage (when asked), `[DONE]`. A call that came whole
   * (no pieces) is sent as one piece.
   */
  private async stream(
    events: AsyncIterable<CompletionEvent>,
    meta: { id: string; created: number },
    includeUsage: boolean,
    req: Request,
    res: Response,
    delivered: (text: string) => void,
  ): Promise<void> {
    const sse = new OpenAiChunkWriter(res, this.config.limits.sse_heartbeat_ms);
    let model = '';
    const chunk = (choices: OpenAiChatCompletionChunkDto['choices'], usage?: OpenAiUsageDto): OpenAiChatCompletionChunkDto => ({
      ...meta,
      object: 'chat.completion.chunk',
      model,
      choices,
      ...(includeUsage && { usage: usage ?? null }),
    });
    const open = () => {
      if (!sse.isOpen) sse.data(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]));
    };
    const piecesOf = new Set<number>(); // calls whose pieces were sent
    const toolCallChunk = (call: OpenAiToolCallDeltaDto) => {
      open();
      sse.data(chunk([{ index: 0, delta: { tool_calls: [call] }, finish_reason: null, logprobs: null }]));
    };
    for await (const e of events) {
      switch (e.type) {
        case 'start':
          model = e.model;
          break;
        case 'delta':
          open();
          sse.data(chunk([{ index: 0, delta: { content: e.text }, finish_reason: null, logprobs: null }]));
          delivered(e.text);
          break;
        case 'tool_call_delta':
          piecesOf.add(e.index);
          toolCallChunk(
            e.id !== undefined || e.name !== undefined
              ? { index: e.index, ...(e.id !== undefined && { id: e.id }), type: 'function', function: { ...(e.name !== undefined && { name: e.name }), arguments: e.arguments } }
              : { index: e.index, function: { arguments: e.arguments } },
          );
          break;
        case 'tool_call':
          if (!piecesOf.has(e.index)) toolCallChunk({ index: e.index, id: e.id, type: 'function', function: { name: e.name, arguments: e.arguments } });
          break;
        case 'done':
          model = e.model;
          open();
          sse.data(chunk([{ index: 0, delta: {}, finish_reason: openAiFinishReason(e.finishReason), logprobs: null }]));
          if (includeUsage) sse.data(chunk([], openAiUsage(e.usage)));
          sse.done();
          break;
        case 'failed':
          if (!sse.isOpen) throw e.error;
          sse.error(toOpenAiError(problemOf(e.error, req)));
          break;
      }
    }
  }
}
