import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatsService } from '../chats/chats.service';
import { SessionTitlesService } from '../chats/session-titles.service';
import { abortOnClientClose } from '../common/abort-on-close';
import { AuthenticatedUser } from '../common/authenticated-user';
import { invalidField, ProblemException } from '../common/problem';
import { ProblemDetailsFilter } from '../common/problem-details.filter';
import { AppConfig, appConfig } from '../config/app-config';
import { ContextService } from '../context/context.service';
import { SummariesService } from '../context/summaries.service';
import { tokenCounterFor } from '../context/token-counter';
import { isAbortError } from '../providers/abort';
import { ChatTurn, ModelProviderError, ModelRequest, ModelUsage } from '../providers/model-provider';
import { costOf, ModelRegistry, RegisteredModel } from '../providers/model-registry';
import { ModelRoute, ModelRouter } from '../providers/model-router';
import { providerProblem } from '../providers/provider-problem';
import { ChatCompletionDto, MessageDto, MessagePageDto, UsageDto } from './dto/chat-completion.dto';
import { ListMessagesQueryDto } from './dto/list-messages-query.dto';
import { SendMessageDto, StreamFormat } from './dto/send-message.dto';
import { AnswerOutcome, MessagesRepository } from './messages.repository';
import { SseWriter } from './sse-writer';

/** Everything needed to call the model once the user's turn is committed. */
interface PreparedSend {
  session: ChatSessionEntity;
  answerId: number;
  /** Calls the model, its retries and fallbacks; `route.model` is the one answering. */
  route: ModelRoute;
  /** The request for one model of the route: the context fitted to its window, its reserved output as max tokens. */
  requestFor: (model: RegisteredModel) => Omit<ModelRequest, 'model'>;
  /** A title stored with the answer (the offline model's first words); a real model titles after the answer. */
  title?: string;
  /** The turn's first user message, for the title. */
  userText: string;
}

/**
 * Sends a turn to a model and stores the answer (seed 004's `POST /v1/chat/stream`).
 *
 * Order of work: validate → commit the user's messages and an `incomplete` placeholder for the answer → call the
 * model → store the outcome. A client that leaves aborts the upstream request and the partial text stays as
 * `incomplete`; a provider failure keeps the partial text as `failed`. Nothing acknowledged is lost.
 */
@Injectable()
export class MessagesService {
  private readonly logger = new Logger(MessagesService.name);
  private readonly problems = new ProblemDetailsFilter();

  constructor(
    private readonly messages: MessagesRepository,
    private readonly chats: ChatsService,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly context: ContextService,
    private readonly summaries: SummariesService,
    private readonly titles: SessionTitlesService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** Answers on `res`: SSE when `dto.stream` (the default), else one JSON object. */
  async send(user: AuthenticatedUser, dto: SendMessageDto, req: Request, res: Response): Promise<void> {
    if (dto.stream) return this.stream(user, dto, req, res);
    const completion = await this.complete(user, dto, res);
    if (completion && !res.destroyed) res.status(200).json(completion);
  }

  /**
   * Streams the answer as SSE on `res` (raw `res.write`). Errors before the first event are thrown (and answered
   * as problem details by the filter); errors after it become an `error` event.
   */
  private async stream(user: AuthenticatedUser, dto: SendMessageDto, req: Request, res: Response): Promise<void> {
    const format: StreamFormat =
      dto.stream_format ?? (/profile\s*=\s*"?events/i.test(req.headers.accept ?? '') ? 'events' : 'data');
    const prepared = await this.prepare(user, dto);
    const { session, answerId, route } = prepared;
    res.setHeader('X-Session-Id', String(session.id));
    const sse = new SseWriter(res, format, this.config.limits.sse_heartbeat_ms);
    const abort = abortOnClientClose(res);
    let text = ''; // everything the provider produced; `sse.sentText` is what reached the client
    try {
      // Retries and fallbacks happen inside the route before the first piece, so `route.model` is settled here.
      for await (const event of route.stream(prepared.requestFor, abort.signal)) {
        if (event.type === 'delta') {
          if (!sse.isOpen) sse.start({ session_id: session.id, message_id: answerId, model: route.model.id });
          sse.delta(event.text);
          text += event.text;
        } else {
          const outcome = this.completeOutcome(prepared, text, event.finishReason, event.usage);
          const after = await this.finish(user, prepared, outcome);
          if (!sse.isOpen) sse.start({ session_id: session.id, message_id: answerId, model: route.model.id });
          sse.done({
            message_id: answerId,
            model: route.model.id,
            finish_reason: event.finishReason,
            usage: usageDto(event.usage),
            cost: outcome.cost,
            title: after.title,
          });
          return;
        }
      }
      throw new ModelProviderError('unavailable', 'the stream ended without a finish event');
    } catch (err) {
      const clientLeft = abort.signal.aborted;
      const problem = await this.recordFailure(user, prepared, clientLeft ? sse.sentText : text, err, clientLeft);
      if (!problem) return; // the client left: nobody to tell
      if (!sse.isOpen) throw problem;
      sse.error(this.problems.toProblem(problem, req));
    } finally {
      abort.dispose();
    }
  }

  /**
   * Produces the whole answer as one JSON object (`stream: false`).
   * @returns the answer, or undefined when the client left before it was ready (it is stored as `incomplete`)
   */
  private async complete(user: AuthenticatedUser, dto: SendMessageDto, res: Response): Promise<ChatCompletionDto | undefined> {
    const prepared = await this.prepare(user, dto);
    const { session, answerId, route } = prepared;
    res.setHeader('X-Session-Id', String(session.id));
    const abort = abortOnClientClose(res);
    try {
      const result = await route.complete(prepared.requestFor, abort.signal);
      const outcome = this.completeOutcome(prepared, result.text, result.finishReason, result.usage);
      const after = await this.finish(user, prepared, outcome);
      return {
        id: answerId,
        session_id: session.id,
        model: route.model.id,
        output_text: result.text,
        message: { role: 'assistant', content: result.text },
        title: after.title,
        message_count: after.messageCount,
        usage: usageDto(result.usage),
        cost: outcome.cost,
        finish_reason: result.finishReason,
      };
    } catch (err) {
      const problem = await this.recordFailure(user, prepared, '', err, abort.signal.aborted);
      if (problem) throw problem;
      return undefined;
    } finally {
      abort.dispose();
    }
  }

  /** A page of a session's messages, oldest first (keyset pagination). @throws 404 not the caller's session */
  async list(user: AuthenticatedUser, sessionId: number, q: ListMessagesQueryDto): Promise<MessagePageDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const { items, more } = await this.messages.page(session.id, q.after_id ?? 0, q.page_size);
    return {
      total: session.messageCount,
      page_size: q.page_size,
      items: items.map(MessageDto.from),
      next_after_id: more ? items[items.length - 1].id : null,
    };
  }

  /** Validates the request, commits the user's turn and builds the model request. */
  private async prepare(user: AuthenticatedUser, dto: SendMessageDto): Promise<PreparedSend> {
    this.validateTurn(dto);
    const systemMessages = dto.messages.filter((m) => m.role === 'system');
    const turns = dto.messages.filter((m) => m.role !== 'system');
    const systemPrompt = systemMessages.length ? systemMessages.map((m) => m.content).join('\n\n') : undefined;

    let existing: ChatSessionEntity | undefined;
    if (dto.session_id !== undefined) {
      existing = await this.chats.findOwned(user.id, dto.session_id);
      if (existing.archivedAt) {
        throw new ProblemException(HttpStatus.CONFLICT, 'This session is archived: restore it before sending to it.');
      }
      if (dto.model) this.registry.resolve(dto.model); // an unknown name is still a 400
    }
    const registered = existing ? this.registry.resolve(existing.model) : dto.model ? this.registry.resolve(dto.model) : this.registry.defaultModel();
    const route = this.router.route(registered);
    const model = route.model; // the first model of the chain that can answer: the context is built for it
    if (dto.max_tokens !== undefined && dto.max_tokens > model.maxOutputTokens) {
      throw invalidField('max_tokens', `must not exceed ${model.maxOutputTokens} for ${model.id}`);
    }

    // Build the context before storing anything, so a turn that can't be answered leaves no trace. A fallback
    // gets the same parts refitted to its own window (one it can't fit is skipped by the route).
    const context = await this.context.forSend(existing ?? null, route.models, systemPrompt, turns as ChatTurn[], dto.max_tokens);

    const { session, answerId } = await this.messages.startTurn({
      session: existing?.id ?? this.chats.newSessionFields(user, { model: registered.id, systemPrompt }),
      systemPrompt: existing ? systemPrompt : undefined,
      turns,
      answerModel: model.id,
    });
    const firstUser = turns.find((t) => t.role === 'user')!;
    return {
      session,
      answerId,
      route,
      requestFor: (candidate) => {
        const fitted = context.refit(candidate);
        return {
          messages: fitted.turns.map(({ role, content }) => ({ role, content })),
          temperature: dto.temperature,
          // What the context reserved, so the answer can never overflow the window (and the preview shows it).
          maxTokens: fitted.accounting.budget.reservedOutput,
        };
      },
      title: session.title ? undefined : this.titles.immediateTitle(session.model, firstUser.content),
      userText: firstUser.content,
    };
  }

  private validateTurn(dto: SendMessageDto): void {
    const max = this.config.limits.max_messages_per_request;
    if (dto.messages.length > max) throw invalidField('messages', `must hold at most ${max} messages`);
    const limit = this.config.limits.max_input_length;
    dto.messages.forEach((m, i) => {
      if (m.role === 'user' && m.content.length > limit) {
        throw invalidField(`messages.${i}.content`, `must be at most ${limit} characters (MAX_INPUT_LENGTH)`);
      }
      if (m.role !== 'system' && !m.content.trim()) throw invalidField(`messages.${i}.content`, 'must not be empty');
    });
    if (dto.messages[dto.messages.length - 1].role !== 'user') {
      throw invalidField('messages', 'the last message must have role "user"');
    }
  }

  /** A complete answer, priced at the answering model's price now in force (later price changes leave it be). */
  private completeOutcome(p: PreparedSend, text: string, finishReason: string, usage: ModelUsage): AnswerOutcome {
    return {
      content: text,
      status: 'complete',
      finishReason,
      model: p.route.model.id,
      attempts: p.route.attempts,
      tokensInput: usage.inputTokens,
      tokensOutput: usage.outputTokens,
      tokensCached: usage.cachedInputTokens ?? 0,
      tokensReasoning: usage.reasoningTokens ?? 0,
      usageEstimated: usage.estimated,
      cost: costOf(p.route.model, usage),
      title: p.title,
    };
  }

  /** Stores a whole answer, then starts the session's title and summary in the background (no stream waits). */
  private async finish(user: AuthenticatedUser, p: PreparedSend, outcome: AnswerOutcome): Promise<ChatSessionEntity> {
    const session = await this.messages.finishAnswer(p.answerId, p.session.id, user.id, outcome);
    this.titles.afterAnswer(session, p.userText, outcome.content);
    this.summaries.afterAnswer(session);
    return session;
  }

  /**
   * Stores a stream that did not complete: `incomplete` when the client left (then returns undefined), `failed`
   * otherwise (then returns the problem to tell the client).
   *
   * Usage is an estimate with the answering model's counter (as in the context preview): the context sent and
   * the text produced. A provider that failed before producing any text (refused credentials or request,
   * rate limits after retries, outages) bills nothing, so such an answer stores 0 tokens at no cost; it still
   * counts as a request. A client that left was cut off while a provider worked on its request, so it is charged.
   */
  private async recordFailure(
    user: AuthenticatedUser,
    p: PreparedSend,
    text: string,
    err: unknown,
    clientLeft: boolean,
  ): Promise<ProblemException | undefined> {
    const left = clientLeft && isAbortError(err);
    const problem = left ? undefined : this.toProblem(err);
    const charged = left || text !== '';
    const counter = tokenCounterFor(p.route.model, this.config.contextManagement.token_estimate_factor);
    const sent = p.route.request?.messages ?? []; // what the last model called was sent
    const usage: ModelUsage = {
      inputTokens: charged ? counter.countTurns(sent) : 0,
      outputTokens: counter.count(text),
      estimated: charged,
    };
    await this.messages.finishAnswer(p.answerId, p.session.id, user.id, {
      content: text,
      status: left ? 'incomplete' : 'failed',
      finishReason: left ? null : 'error',
      model: p.route.model.id,
      attempts: p.route.attempts,
      tokensInput: usage.inputTokens,
      tokensOutput: usage.outputTokens,
      tokensCached: 0,
      tokensReasoning: 0,
      usageEstimated: usage.estimated,
      cost: costOf(p.route.model, usage),
      error: problem?.message,
      title: p.title,
    });
    return problem;
  }

  private toProblem(err: unknown): ProblemException {
    if (err instanceof ModelProviderError) return providerProblem(err);
    if (err instanceof ProblemException) return err;
    this.logger.error(`Unexpected failure while answering: ${(err as Error)?.stack ?? err}`);
    return new ProblemException(HttpStatus.INTERNAL_SERVER_ERROR, 'The answer failed unexpectedly. It has been logged.');
  }
}

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
