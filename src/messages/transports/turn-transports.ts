import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { abortOnClientClose } from '../../common/abort-on-close';
import { AuthenticatedUser } from '../../common/authenticated-user';
import { problemOf } from '../../common/problem-details';
import { AppConfig, appConfig } from '../../config/app-config';
import { ModelUsage } from '../../providers/model-provider';
import { ChatTurnService, TurnEvent } from '../chat-turn.service';
import { ChatCompletionDto, UsageDto } from '../dto/chat-completion.dto';
import { SendMessageDto, StreamFormat } from '../dto/send-message.dto';
import { SseWriter } from './sse-writer';

/**
 * The HTTP edge of a send: picks the answer's form (plain `data:` SSE, typed SSE, or one JSON object), hands the
 * client's disconnect to the turn engine as an abort signal and writes the engine's events. Errors before the
 * first byte are thrown and answered as problem details by the exception filter; after it they become an SSE
 * `error` event formatted by the same {@link problemOf}.
 */
@Injectable()
export class TurnTransports {
  constructor(
    private readonly turns: ChatTurnService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** Answers `POST /v1/chat/stream` on `res`: SSE when `dto.stream` (the default), else JSON. */
  async send(user: AuthenticatedUser, dto: SendMessageDto, req: Request, res: Response): Promise<void> {
    const client = abortOnClientClose(res);
    try {
      if (!dto.stream) return await this.json(user, dto, res, client.signal);
      const format: StreamFormat =
        dto.stream_format ?? (/profile\s*=\s*"?events/i.test(req.headers.accept ?? '') ? 'events' : 'data');
      await this.sse(user, dto, req, res, client.signal, format);
    } finally {
      client.dispose();
    }
  }

  /** Writes the events as SSE; the headers go out with the first text (or the end), never before. */
  private async sse(
    user: AuthenticatedUser,
    dto: SendMessageDto,
    req: Request,
    res: Response,
    signal: AbortSignal,
    format: StreamFormat,
  ): Promise<void> {
    const sse = new SseWriter(res, format, this.config.limits.sse_heartbeat_ms);
    let start: object = {};
    let preparedMs = 0;
    for await (const event of this.turns.run(user, dto, signal, () => sse.sentText)) {
      switch (event.type) {
        case 'started':
          res.setHeader('X-Session-Id', String(event.sessionId));
          res.setHeader('Server-Timing', serverTiming(event.preparedMs));
          preparedMs = event.preparedMs;
          start = { session_id: event.sessionId, message_id: event.messageId, model: event.model };
          break;
        case 'delta':
          if (!sse.isOpen) sse.start(start);
          sse.delta(event.text);
          break;
        case 'done':
          if (!sse.isOpen) sse.start(start);
          sse.done(doneDto(event, preparedMs));
          break;
        case 'failed':
          if (!sse.isOpen) throw event.error;
          sse.error(problemOf(event.error, req));
          break;
      }
    }
  }

  /** Collects the events into one ChatCompletion object; nothing is written when the client left. */
  private async json(user: AuthenticatedUser, dto: SendMessageDto, res: Response, signal: AbortSignal): Promise<void> {
    let sessionId = 0;
    let preparedMs = 0;
    let text = '';
    for await (const event of this.turns.run(user, dto, signal)) {
      switch (event.type) {
        case 'started':
          sessionId = event.sessionId;
          preparedMs = event.preparedMs;
          res.setHeader('X-Session-Id', String(event.sessionId));
          break;
        case 'delta':
          text += event.text;
          break;
        case 'failed':
          throw event.error;
        case 'done': {
          const completion: ChatCompletionDto = {
            id: event.messageId,
            session_id: sessionId,
            model: event.model,
            output_text: text,
            message: { role: 'assistant', content: text },
            title: event.title,
            message_count: event.messageCount,
            usage: usageDto(event.usage),
            cost: event.cost,
            finish_reason: event.finishReason,
          };
          res.setHeader('Server-Timing', serverTiming(preparedMs, event.providerMs));
          if (!res.destroyed) res.status(200).json(completion);
        }
      }
    }
  }
}

/** The typed `done` event's payload. */
function doneDto(event: Extract<TurnEvent, { type: 'done' }>, preparedMs: number): object {
  return {
    message_id: event.messageId,
    model: event.model,
    finish_reason: event.finishReason,
    usage: usageDto(event.usage),
    cost: event.cost,
    title: event.title,
    server_timing: { app_ms: round(preparedMs), provider_ms: round(event.providerMs) },
  };
}

/**
 * A W3C Server-Timing value: `app` is our own time before the provider was called, `provider` the provider's time
 * to the last piece (known only once the answer is complete). Milliseconds, as the specification's `dur`.
 */
function serverTiming(appMs: number, providerMs?: number): string {
  return providerMs === undefined ? `app;dur=${round(appMs)}` : `app;dur=${round(appMs)}, provider;dur=${round(providerMs)}`;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** An answer's usage as the `done` event and the JSON answer show it (cached and reasoning: 0 when not reported). */
function usageDto(u: ModelUsage): UsageDto {
  return {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    cached_tokens: u.cachedInputTokens ?? 0,
    reasoning_tokens: u.reasoningTokens ?? 0,
    estimated: u.estimated,
  };
}
