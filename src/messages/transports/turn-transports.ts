import { advertiseQuotas } from '../../rate-limit/rate-limit-headers';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { abortOnClientClose } from '../../common/abort-on-close';
import { AuthenticatedUser } from '../../common/authenticated-user';
import { problemOf } from '../../common/problem-details';
import { invalidField, notFound, ProblemException } from '../../common/problem';
import { AppConfig, appConfig } from '../../config/app-config';
import { AnswerEvent } from '../../streams/answer-log';
import { AnswerStreams } from '../../streams/answer-streams.service';
import { DonePayload, serverTiming } from '../answer-events';
import { ChatCompletionDto } from '../dto/chat-completion.dto';
import { ResumeQueryDto } from '../dto/list-messages-query.dto';
import { toolChoiceOf, toolsOf, turnMessageOf } from '../dto/content-parts.dto';
import { SendMessageDto, StreamFormat } from '../dto/send-message.dto';
import type { TurnRequest } from '../chat-turn.service';
import { IdempotencyClaim, IdempotencyService, IdempotentOutcome } from '../../idempotency/idempotency.service';
import { fingerprintOf, idempotencyKeyOf, REPLAYED_HEADER } from '../../idempotency/idempotency.http';
import { GenerationsService, StartedAnswer } from '../generations.service';
import { MessageEntity } from '../message.entity';
import { ToolCallPart, toolCallsOf } from '../../providers/content-parts';
import { MessagesService } from '../messages.service';
import { SseWriter } from './sse-writer';

/** The SSE format a request asks for: `stream_format`, else `Accept: text/event-stream; profile=events`. */
function formatOf(req: Request, asked?: StreamFormat): StreamFormat {
  return asked ?? (/profile\s*=\s*"?events/i.test(req.headers.accept ?? '') ? 'events' : 'data');
}

/** The turn a `POST /v1/chat/stream` body asks for: its messages as parts, its tools as definitions. */
export function sendRequestOf(dto: SendMessageDto): TurnRequest {
  return {
    ...dto,
    messages: dto.messages.map(turnMessageOf),
    tools: toolsOf(dto.tools),
    tool_choice: toolChoiceOf(dto.tool_choice),
  };
}

/**
 * The HTTP edge of a send and of a resumed answer: picks the answer's form (plain `data:` SSE, typed SSE, or one
 * JSON object), hands the client's disconnect to the generation as an abort signal (unless it runs in the
 * background) and writes the answer's numbered events. Errors before the first byte are thrown and answered as
 * problem details by the exception filter; after it they become an SSE `error` event formatted by the same
 * {@link problemOf}.
 */
@Injectable()
export class TurnTransports {
  constructor(
    private readonly generations: GenerationsService,
    private readonly streams: AnswerStreams,
    private readonly messages: MessagesService,
    private readonly idempotency: IdempotencyService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * Answers `POST /v1/chat/stream` on `res`: SSE when `dto.stream` (the default), else JSON (202 in the background).
   * A regenerated answer or an edited question is sent the same way, with `parentId` (where the turn goes).
   * With `Idempotency-Key`, a repeat of the same request gets the first one's answer (replayed, live if it still
   * runs) with `Idempotent-Replayed: true` instead of a second provider call.
   * @throws 400 malformed key; 409 the first request with the key has not stored its turn yet; 422 the key came with
   *         another request; what the send throws before its first byte
   */
  async send(user: AuthenticatedUser, dto: SendMessageDto, req: Request, res: Response, parentId?: TurnRequest['parent_id']): Promise<void> {
    const key = idempotencyKeyOf(req, this.config.idempotency.max_key_length);
    if (key === undefined) return this.run(user, dto, req, res, parentId);
    const begun = await this.idempotency.begin(user.id, key, fingerprintOf(req));
    if (begun instanceof IdempotencyClaim) return this.run(user, dto, req, res, parentId, begun);
    return this.replay(user, dto, begun, req, res);
  }

  private async run(
    user: AuthenticatedUser,
    dto: SendMessageDto,
    req: Request,
    res: Response,
    parentId: TurnRequest['parent_id'],
    claim?: IdempotencyClaim,
  ): Promise<void> {
    const client = abortOnClientClose(res);
    try {
      const sse = dto.stream ? new SseWriter(res, formatOf(req, dto.stream_format), this.config.limits.sse_heartbeat_ms) : undefined;
      let answer: StartedAnswer;
      try {
        const request = parentId === undefined ? sendRequestOf(dto) : { ...sendRequestOf(dto), parent_id: parentId };
        answer = await this.generations.start(user, request, {
          background: dto.background === true,
          clientSignal: client.signal,
          delivered: sse ? () => sse.sentText : undefined,
          path: req.originalUrl,
          alsoRecord: claim && ((stmt, turn) => claim.recordAnswer(stmt, turn.sessionCte, turn.messagesCte)),
        });
      } catch (err) {
        // Nothing was stored: the key is free for a repeat (a key whose turn was stored stays).
        await claim?.release().catch(() => undefined);
        throw err;
      }
      const sessionHeader = { 'X-Session-Id': String(answer.sessionId) };
      res.setHeader('X-Session-Id', sessionHeader['X-Session-Id']);
      advertiseQuotas(res, answer.quotas);
      if (sse) {
        await this.write(sse, answer.events, answer.error, undefined, (ms) => res.setHeader('Server-Timing', serverTiming(ms)), answer.preparedMs);
        return;
      }
      if (dto.background) {
        res.status(HttpStatus.ACCEPTED).json({ message_id: answer.messageId, session_id: answer.sessionId, status: 'in_progress' });
        return;
      }
      const completion = await this.collect(answer.sessionId, answer.events, answer.error);
      if (completion) {
        // Repeats get this answer as it is; when storing it fails they rebuild it from the answer's log or row.
        await claim?.complete({ status: HttpStatus.OK, headers: sessionHeader, body: completion.body }).catch(() => undefined);
      }
      if (completion && !res.destroyed) {
        res.setHeader('Server-Timing', serverTiming(completion.timing.app_ms, completion.timing.provider_ms));
        res.status(200).json(completion.body);
      }
    } finally {
      client.dispose();
    }
  }

  /**
   * A repeat of an idempotent send: the first request's answer in the form this request asks for, from its stored
   * response, its event log (live while it runs) or its row.
   */
  private async replay(user: AuthenticatedUser, dto: SendMessageDto, outcome: IdempotentOutcome, req: Request, res: Response): Promise<void> {
    res.setHeader(REPLAYED_HEADER, 'true');
    if (outcome.response) {
      for (const [name, value] of Object.entries(outcome.response.headers)) res.setHeader(name, value);
      res.status(outcome.response.status).json(outcome.response.body);
      return;
    }
    if (outcome.messageId === null || outcome.sessionId === null) throw notFound('Message');
    res.setHeader('X-Session-Id', String(outcome.sessionId));
    if (dto.stream) return this.replayAnswer(user, outcome.messageId, 0, formatOf(req, dto.stream_format), res);
    if (dto.background) {
      res.status(HttpStatus.ACCEPTED).json({ message_id: outcome.messageId, session_id: outcome.sessionId, status: 'in_progress' });
      return;
    }
    const client = abortOnClientClose(res);
    try {
      const events = await this.streams.follow(outcome.messageId, 0, client.signal, this.config.streams.follow_check_ms);
      const completion = events && (await this.collect(outcome.sessionId, events, () => undefined));
      const body = completion?.body ?? (await this.messages.completion(user, outcome.messageId, () => client.signal.aborted));
      if (!res.destroyed) res.status(200).json(body);
    } finally {
      client.dispose();
    }
  }

  /**
   * Answers `GET /v1/chat/messages/{id}/events`: the answer's events after `Last-Event-ID` (or `?after`), then the
   * live ones until its end, from any instance. An answer whose log has expired is replayed from its stored row.
   * @throws 404 not the caller's answer; 410 the log expired and the client is past its start
   */
  async resume(user: AuthenticatedUser, id: number, query: ResumeQueryDto, req: Request, res: Response): Promise<void> {
    const header = req.headers['last-event-id'];
    if (header !== undefined && !/^\d{1,10}$/.test(String(header).trim())) {
      throw invalidField('Last-Event-ID', 'must be the id of an event of this answer (a non-negative integer)');
    }
    const after = header !== undefined ? Number(String(header).trim()) : (query.after ?? 0);
    return this.replayAnswer(user, id, after, formatOf(req, query.stream_format), res);
  }

  /** An answer's events after `after` in `format`, then the live ones until its end (its row when no log has it). */
  private async replayAnswer(user: AuthenticatedUser, id: number, after: number, format: StreamFormat, res: Response): Promise<void> {
    let row = await this.messages.answer(user, id);
    const client = abortOnClientClose(res);
    const sse = new SseWriter(res, format, this.config.limits.sse_heartbeat_ms);
    sse.skipThrough = after;
    try {
      const follow = () => this.streams.follow(id, 0, client.signal, this.config.streams.follow_check_ms);
      let events = await follow();
      // No log yet or any more: the answer may still be starting on another instance (its log appears with its
      // first event), or it has ended and its log expired (its row is then the source).
      while (!events && row.status === 'in_progress' && !client.signal.aborted) {
        await new Promise((r) => setTimeout(r, this.config.streams.follow_check_ms));
        row = await this.messages.answer(user, id);
        events = await follow();
      }
      if (events) {
        const seen = await this.write(sse, events, () => undefined, async () => (row = await this.messages.answer(user, id)).status !== 'in_progress');
        if (seen.ended || client.signal.aborted) return;
        return this.finishFromRow(sse, row, seen.text, seen.n, seen.calls);
      }
      if (client.signal.aborted) return;
      // Without the log, the row gives `start`, the whole text as one `delta`, then `done`: the same events in the
      // typed format, but the plain format's text would be cut differently, so its ids could not be matched.
      if (after > (format === 'events' ? 1 : 0)) {
        throw new ProblemException(HttpStatus.GONE, `The event log of this answer has expired; read the whole answer with GET /v1/chat/messages/${id}.`);
      }
      sse.start({ session_id: row.sessionId, message_id: row.id, model: row.model }, 1);
      this.finishFromRow(sse, row, '', 1);
    } finally {
      client.dispose();
    }
  }

  /**
   * The end of an answer from its stored row: the text the log did not carry, its tool calls (when the log carried
   * none of them), then `done` (or `error`).
   */
  private finishFromRow(sse: SseWriter, row: MessageEntity, seenText: string, lastN: number, seenCalls = 0): void {
    let n = lastN;
    const rest = row.content.startsWith(seenText) ? row.content.slice(seenText.length) : '';
    if (rest) sse.delta(rest, ++n);
    if (!seenCalls) {
      for (const [index, call] of toolCallsOf(row.parts).entries()) {
        sse.toolCall('tool_call', { index, id: call.id, name: call.name, arguments: call.arguments }, ++n);
      }
    }
    if (row.status === 'failed') {
      sse.error(problemOf(new ProblemException(HttpStatus.BAD_GATEWAY, row.error ?? 'The answer failed.')), ++n);
      return;
    }
    sse.done({ message_id: row.id, model: row.model, finish_reason: row.finishReason, status: row.status }, ++n);
  }

  /**
   * Writes an answer's events as SSE; the headers go out with the first text (or the end), never before.
   * @param failure the domain error behind a final `error`: thrown when nothing was written yet (a proper status)
   * @param ended asked whenever the log is quiet: true when the answer has ended without its log saying so
   * @param timing given our own time before the provider was called, before the headers go out (the sender only)
   * @returns the text, the whole tool calls and the last event number written, and whether the log's final event
   *          was reached
   */
  private async write(
    sse: SseWriter,
    events: AsyncIterable<AnswerEvent | null>,
    failure: () => Error | undefined,
    ended?: () => Promise<boolean>,
    timing?: (preparedMs: number) => void,
    preparedMs?: () => number | undefined,
  ): Promise<{ text: string; calls: number; n: number; ended: boolean }> {
    let start: { data: object; n: number } | undefined;
    let text = '';
    let calls = 0;
    let n = 0;
    for await (const event of events) {
      if (!event) {
        if (ended && (await ended())) return { text, calls, n, ended: false };
        continue;
      }
      n = event.n;
      switch (event.type) {
        case 'start':
          start = { data: event.data, n: event.n };
          if (timing && preparedMs?.() !== undefined) timing(preparedMs()!);
          break;
        case 'delta':
          if (!sse.isOpen && start) sse.start(start.data, start.n);
          sse.delta(event.data.text as string, event.n);
          text += event.data.text as string;
          break;
        case 'tool_call_delta':
        case 'tool_call':
          if (!sse.isOpen && start && sse.format === 'events') sse.start(start.data, start.n);
          sse.toolCall(event.type, event.data, event.n);
          if (event.type === 'tool_call') calls++;
          break;
        case 'done': {
          if (!sse.isOpen && start) sse.start(start.data, start.n);
          const { message_count: _count, ...payload } = event.data; // for JSON answers only
          sse.done(payload, event.n);
          return { text, calls, n, ended: true };
        }
        case 'error': {
          const error = failure();
          if (!sse.isOpen && error) throw error;
          sse.error(event.data, event.n);
          return { text, calls, n, ended: true };
        }
      }
    }
    return { text, calls, n, ended: false };
  }

  /** Collects the events into one ChatCompletion object; undefined when the client left. */
  private async collect(
    sessionId: number,
    events: AsyncIterable<AnswerEvent | null>,
    failure: () => Error | undefined,
  ): Promise<{ body: ChatCompletionDto; timing: DonePayload['server_timing'] } | undefined> {
    let text = '';
    const calls: ToolCallPart[] = [];
    for await (const event of events) {
      if (!event) continue;
      if (event.type === 'delta') text += event.data.text as string;
      if (event.type === 'tool_call') {
        const { id, name, arguments: args } = event.data as { id: string; name: string; arguments: string };
        calls.push({ type: 'tool_call', id, name, arguments: args });
      }
      if (event.type === 'error') throw failure() ?? new ProblemException(event.data.status as number, event.data.detail as string);
      if (event.type === 'done') {
        const d = event.data as DonePayload;
        if (d.status === 'incomplete') return undefined;
        const body: ChatCompletionDto = {
          id: d.message_id,
          session_id: sessionId,
          model: d.model,
          output_text: text,
          message: { role: 'assistant', content: text, parts: [...(text ? [{ type: 'text' as const, text }] : []), ...calls] },
          title: d.title,
          message_count: d.message_count,
          usage: d.usage,
          cost: d.cost,
          finish_reason: d.finish_reason,
        };
        return { body, timing: d.server_timing };
      }
    }
    return undefined;
  }
}
