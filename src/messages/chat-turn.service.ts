import { HttpStatus, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatSessionsRepository, SessionRow } from '../chats/chat-sessions.repository';
import { ChatsService } from '../chats/chats.service';
import { SessionTitlesService } from '../chats/session-titles.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { DomainError } from '../common/domain-error';
import { QuotaState } from '../common/quota';
import { inSpan } from '../common/tracing';
import { invalidField, notFound, ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { jsonDepth } from '../common/json-depth';
import { isDatabaseUnavailable } from '../database/pg-errors';
import { ImagesService } from '../images/images.service';
import { SqlStatement } from '../database/sql-statement';
import { ContextService, SendContext } from '../context/context.service';
import { SummariesService } from '../context/summaries.service';
import { MetricsService } from '../metrics/metrics.service';
import { tokenCounterFor } from '../providers/tokenizer';
import { isAbortError } from '../providers/abort';
import { ContentPart, ToolCallPart, ToolChoice, ToolDefinition } from '../providers/content-parts';
import { ChatTurn, FinishReason, ModelProviderError, ModelRequest, ModelStreamEvent, ModelUsage } from '../providers/model-provider';
import { costOf, missingCapability, ModelCapabilityError, ModelNeeds, ModelRegistry, RegisteredModel } from '../providers/model-registry';
import { ModelRoute, ModelRouter } from '../providers/model-router';
import { UsageService } from '../usage/usage.service';
import { AnswerStop, INSTANCE_ID } from './answer-stop';
import { MessageRole } from './message.entity';
import { AnswerOutcome, AnswerPrices, MessagesRepository } from './messages.repository';

/** One message of a send, its content normalised to parts. */
export interface TurnMessage {
  role: MessageRole;
  /** The text: the text parts joined. */
  content: string;
  /** The whole message (text, images, tool calls), in order; absent: `content` as one text part. */
  parts?: ContentPart[];
  /** `tool` messages: the id of the tool call this is the result of. */
  tool_call_id?: string;
  /**
   * Where each of `parts` came from in the request (`messages.0.content.1`, `messages.2.tool_calls.0`), named in
   * errors; absent: `messages.<i>.content.<j>`.
   */
  part_fields?: string[];
}

/** Which parts each role may hold: images only from the user, tool calls only from the model. */
const PARTS_BY_ROLE: Record<MessageRole, readonly ContentPart['type'][]> = {
  system: ['text'],
  user: ['text', 'image'],
  assistant: ['text', 'tool_call'],
  tool: ['text'],
};
const PART_NAMES: Record<ContentPart['type'], string> = { text: 'text parts', image: 'images', tool_call: 'tool calls' };

/** What a send asks for (the body of `POST /v1/chat/stream`, without the transport's options). */
export interface TurnRequest {
  /**
   * Registry id or alias. The request's model wins: with `session_id` it answers this turn and becomes the
   * session's model (as switch-model does, the history kept); omitted, the session's model answers (a new session:
   * the server's default model).
   */
  model?: string;
  /**
   * The new turn, oldest first; the last message is the user's, or a tool result. `system` messages become the
   * system prompt.
   */
  messages: TurnMessage[];
  /** Functions the model may call (the model must support tools). */
  tools?: ToolDefinition[];
  /** Whether and which tool the model must call; a named tool must be one of `tools`. */
  tool_choice?: ToolChoice;
  /** Sampling temperature, 0..2. */
  temperature?: number;
  /** Nucleus sampling: the probability mass of tokens considered, 0..1. */
  top_p?: number;
  /** Sequences that end the answer where they would begin (not part of the text). */
  stop?: string[];
  /** Most tokens to generate; at most the model's `max_output_tokens`. */
  max_tokens?: number;
  /** An existing session of the caller; without it the send creates one. */
  session_id?: number;
  /** `false`: the whole answer in one provider call (no streaming upstream), delivered as one `delta`. */
  stream?: boolean;
  /**
   * `true`: nothing is stored as a session (no `stored` event; `started` and `done` carry null ids): the messages
   * are the whole context as given (no default system prompt, no stored history), and the call still goes to the
   * usage ledger, the budgets and the hooks. Not with `session_id`.
   */
  stateless?: boolean;
  /** Free-form JSON kept with a session this send creates. */
  metadata?: Record<string, unknown>;
  /**
   * Where the turn goes in the session's message tree (with `session_id` only): after this message (null: as a new
   * first message) instead of after the active leaf, so an edited question or a regenerated answer becomes a
   * sibling of the message it replaces. The history sent is the branch ending at it; `messages` may be empty (a
   * regenerated answer to it). The new answer becomes the active leaf either way.
   */
  parent_id?: number | null;
}

/**
 * The events of one send, in order: `stored` once, `started` once, then `delta`s, then exactly one of `done` or
 * `failed`. A send the client abandoned (its signal aborted) ends without `done`/`failed`: the answer is stored as
 * `incomplete`. A send stopped with an {@link AnswerStop} reason ends with `done` (`finish_reason: "cancelled"`,
 * stored `cancelled`) or, at shutdown, `failed` with a 503 (stored `incomplete` with the text produced so far).
 */
export type TurnEvent =
  | {
      type: 'stored';
      /** The turn and the answer's `in_progress` row are committed; no provider has been called yet. */
      sessionId: number;
      messageId: number;
      sessionCreated: boolean;
      /** Quotas the send counted against (budgets), for the edge's RateLimit headers. */
      quotas: QuotaState[];
    }
  | {
      type: 'started';
      /** The session answered in (created by this send when `sessionCreated`); null for a stateless send. */
      sessionId: number | null;
      /** Id of the answer's message (its placeholder row until the answer is settled); null for a stateless send. */
      messageId: number | null;
      /** Ids of the request's user and assistant messages as stored, oldest first. */
      userMessageIds: number[];
      /** Registry id of the model answering: the first of the chain that responded (after retries and fallbacks). */
      model: string;
      /** True when this send created the session. */
      sessionCreated: boolean;
      /** Milliseconds this service spent before calling the provider (planning, hooks, storing the turn). */
      preparedMs: number;
      /** Quotas the send counted against (budgets), for the edge's RateLimit headers. */
      quotas: QuotaState[];
    }
  | {
      type: 'delta';
      /** A piece of the answer's text, as the provider sent it (never empty). */
      text: string;
    }
  | {
      type: 'tool_call_delta';
      /** The call's position among the answer's calls, from 0. */
      index: number;
      /** With the call's first piece. */
      id?: string;
      /** With the call's first piece. */
      name?: string;
      /** The next piece of the arguments' JSON text (may be empty). */
      arguments: string;
    }
  | {
      /** A whole tool call, once the model has finished: one per call, in index order, before `done`. */
      type: 'tool_call';
      index: number;
      id: string;
      name: string;
      /** JSON text, as the model wrote it. */
      arguments: string;
    }
  | {
      type: 'done';
      /** Id of the stored answer; null for a stateless send. */
      messageId: number | null;
      /** Registry id of the model that answered. */
      model: string;
      /** The provider's, or `cancelled` when the answer was stopped by a cancel. */
      finishReason: FinishReason | 'cancelled';
      /** The provider's token counts (or a tokenizer's, marked `estimated`). */
      usage: ModelUsage;
      /** USD, at the answering model's price now in force. */
      cost: number;
      /** The session's title after the answer; null while a model is titling it in the background. */
      title: string | null;
      /** Messages now stored in the session. */
      messageCount: number;
      /** Milliseconds from calling the provider to its last piece (retries and fallbacks included). */
      providerMs: number;
    }
  | {
      type: 'failed';
      /** Why: a domain error (e.g. `ModelProviderError`), mapped to HTTP at the edge. */
      error: Error;
      /** The answer's text produced before the failure (stored with the `failed` answer). */
      partialText: string;
    };

/**
 * Writes a caller adds to the statement that stores a turn, so they commit with it.
 * @param turn.sessionCte the CTE returning the session's `id`
 * @param turn.messagesCte the CTE returning the turn's message `id`s, the answer's the largest
 */
export type TurnWrites = (stmt: SqlStatement, turn: { sessionCte: string; messagesCte: string }) => void;

/** A send once it is planned: what the hooks and the rest of the send see. Nothing is stored yet. */
export interface TurnPlan {
  user: AuthenticatedUser;
  /** The existing session, or null when the send creates one. */
  session: ChatSessionEntity | null;
  /** The model chain, planned once: `route.model` is the first model of the chain that can be called. */
  route: ModelRoute;
  /** The context built for `route.model` (and refittable to a fallback). */
  context: SendContext;
  /** The route titling a new or untitled session (planned with the answer's), or undefined for first words. */
  titler: ModelRoute | undefined;
  /** A system prompt given with the request (it replaces the session's). */
  systemPrompt?: string;
  /** The request's user, assistant and tool messages, oldest first, with their parts. */
  turns: ChatTurn[];
  /** Functions offered to the model (absent: none). */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /** Registry id of the model the session answers with from now on (a new session is created with it). */
  sessionModel: string;
  /** True when nothing is stored as a session (see {@link TurnRequest.stateless}). */
  stateless: boolean;
  /** Free-form JSON kept with a session this send creates. */
  metadata?: Record<string, unknown>;
  /** What the caller may use, from the hooks' {@link TurnHook.limits}. */
  limits: TurnLimits;
  /** Quotas the send counted against, as hooks report them (the edge advertises the tightest one). */
  quotas: QuotaState[];
}

/** What a caller may use, as the hooks say it (e.g. budgets); the engine applies it while planning the send. */
export interface TurnLimits {
  /** Most output tokens a send may ask for: a larger `max_tokens` is a 422; without one, the output is capped to it. */
  maxOutputTokens?: number;
  /** Whether the caller may use a model; a fallback it refuses is left out of the chain, never called. */
  allowsModel?: (model: RegisteredModel) => boolean;
}

/** A settled answer, as the `afterSettled` hook sees it. */
export interface SettledTurn {
  plan: TurnPlan;
  /** Null for a stateless send. */
  sessionId: number | null;
  /** Null for a stateless send. */
  messageId: number | null;
  outcome: AnswerOutcome;
}

/**
 * Extension points of every send: the array provided as {@link TURN_HOOKS} in the messages module. Both are
 * awaited in the array's order.
 */
export interface TurnHook {
  /** What the caller may use, asked while the send is planned (several hooks: the tightest of each). */
  limits?(user: AuthenticatedUser): TurnLimits;
  /**
   * Runs after the send is planned and before anything is stored or any provider is called (e.g. to reserve a
   * budget). Throwing a domain error refuses the send: no row is written, and the client gets a 4xx before any SSE
   * byte.
   */
  beforeProvider?(plan: TurnPlan): Promise<void>;
  /**
   * Runs once the answer is settled and stored, complete or not (e.g. to settle a reservation, count metrics). A
   * failure here is logged and changes nothing for the client.
   */
  afterSettled?(settled: SettledTurn): Promise<void>;
}

/** Injection token of the registered {@link TurnHook}s (an array, provided by the messages module). */
export const TURN_HOOKS = Symbol('TURN_HOOKS');

/** First wait before storing an answer again, and the longest wait between two tries (then up to persist_retry_ms). */
const PERSIST_RETRY_BASE_MS = 100;
const PERSIST_RETRY_MAX_MS = 5_000;

/**
 * An answer that could not be stored: PostgreSQL stayed out of reach for `streams.persist_retry_ms` (503). Its
 * row keeps the last checkpoint.
 */
export class AnswerNotStoredError extends ProblemException {
  constructor(answerId: number) {
    super(
      HttpStatus.SERVICE_UNAVAILABLE,
      `The database is not answering: the answer could not be stored (its text up to the last checkpoint is kept). Read it with GET /v1/chat/messages/${answerId}.`,
      {},
      { 'Retry-After': '1' },
    );
  }
}

/** A piece of the provider's answer: streamed, or (`stream: false`) the whole text as one piece. */
type AnswerPiece = ModelStreamEvent;

/**
 * The turn engine: one send, from request to stored answer, with no HTTP in it. Transports at the edge consume
 * its events (plain SSE, typed SSE, JSON).
 *
 * Order of work: validate → plan (the session, the model chain once, the context) → `beforeProvider` hooks →
 * one transaction storing the session (new or touched), the user's messages and the answer's `incomplete`
 * placeholder → call the model → one transaction storing the answer, its usage and the totals → `afterSettled`
 * hooks → titles and summaries in the background. A client that leaves aborts the upstream request and the text
 * it received stays as `incomplete`; a provider failure keeps the partial text as `failed`. Nothing acknowledged
 * is lost.
 */
@Injectable()
export class ChatTurnService {
  private readonly logger = new Logger(ChatTurnService.name);

  constructor(
    private readonly messages: MessagesRepository,
    private readonly sessions: ChatSessionsRepository,
    private readonly chats: ChatsService,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly context: ContextService,
    private readonly titles: SessionTitlesService,
    private readonly summaries: SummariesService,
    private readonly usage: UsageService,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly images: ImagesService,
    @Inject(TURN_HOOKS) private readonly hooks: TurnHook[],
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /**
   * Runs one send. Errors before anything is stored (bad input, unknown or archived session, a conversation too
   * long for the model, a refusing hook) are thrown by the iterator before its first event; after that, failures
   * are `failed` events. Consume it to the end: the answer is settled before it finishes.
   * @param signal aborted when the client leaves; the upstream call stops and the answer is stored `incomplete`
   * @param delivered the answer's text the client has received so far (a transport may hold text back); default:
   *        every `delta` handed out
   * @param alsoRecord writes committed in the statement storing the turn (e.g. the idempotency key of the send)
   * @throws ProblemException 400/404/409/422 bad input; DomainError (e.g. `context.too_small`, `provider.not_configured`)
   */
  async *run(
    user: AuthenticatedUser,
    request: TurnRequest,
    signal: AbortSignal,
    delivered?: () => string,
    alsoRecord?: TurnWrites,
  ): AsyncGenerator<TurnEvent> {
    const began = performance.now();
    const plan = await inSpan('chat.plan', {}, () => this.plan(user, request, signal));
    for (const hook of this.hooks) await hook.beforeProvider?.(plan);
    let session: SessionRow | undefined;
    let messageIds: number[] = [];
    let answerId: number | null = null;
    if (!plan.stateless) {
      ({ session, messageIds, answerId } = await inSpan('chat.record_turn', {}, () => this.recordTurn(plan, alsoRecord)));
      yield { type: 'stored', sessionId: session.id, messageId: answerId, sessionCreated: !plan.session, quotas: plan.quotas };
    }
    const sessionId = session?.id ?? null;
    const calledAt = performance.now();
    const ended = this.metrics?.answerStarted();
    const started: Extract<TurnEvent, { type: 'started' }> = {
      type: 'started',
      sessionId,
      messageId: answerId,
      userMessageIds: messageIds,
      model: plan.route.model.id,
      sessionCreated: !plan.session && !plan.stateless,
      preparedMs: calledAt - began,
      quotas: plan.quotas,
    };
    const userText = firstUserText(plan);
    const title = !session || session.title || !userText ? undefined : this.titles.immediateTitle(plan.titler, userText);
    let text = '';
    /** Tool calls streamed so far, by index. */
    const calls: { id?: string; name?: string; arguments: string }[] = [];
    let announced = false;
    try {
      for await (const piece of this.answer(plan, request, signal)) {
        if (!announced) {
          announced = true;
          yield { ...started, model: plan.route.model.id };
        }
        if (piece.type === 'delta') {
          if (!piece.text) continue;
          text += piece.text;
          yield { type: 'delta', text: piece.text };
          continue;
        }
        if (piece.type === 'tool_call_delta') {
          const call = (calls[piece.index] ??= { arguments: '' });
          call.id ??= piece.id;
          call.name ??= piece.name;
          call.arguments += piece.arguments;
          yield { type: 'tool_call_delta', index: piece.index, id: piece.id, name: piece.name, arguments: piece.arguments };
          continue;
        }
        const toolCalls = piece.toolCalls?.length ? piece.toolCalls : wholeCalls(calls);
        for (const [index, call] of toolCalls.entries()) yield { type: 'tool_call', index, id: call.id, name: call.name, arguments: call.arguments };
        // Some protocols end a turn of calls as a plain stop (Gemini's STOP): the answer still waits for results.
        const finishReason = toolCalls.length && piece.finishReason === 'stop' ? 'tool_calls' : piece.finishReason;
        const providerMs = performance.now() - calledAt;
        const outcome = this.outcome(plan, text, toolCalls, finishReason, piece.usage);
        const after = await this.settle(plan, sessionId, answerId, outcome, title, signal);
        yield {
          type: 'done',
          messageId: answerId,
          model: outcome.model,
          finishReason,
          usage: piece.usage,
          cost: outcome.cost,
          title: after?.title ?? null,
          messageCount: after?.message_count ?? 0,
          providerMs,
        };
        return;
      }
      throw new ModelProviderError('unavailable', 'the stream ended without a finish event');
    } catch (err) {
      if (err instanceof AnswerNotStoredError) throw err; // the answer itself went well: it is not a failed answer
      const stopped = signal.aborted && isAbortError(err);
      const stop = stopped && signal.reason instanceof AnswerStop ? signal.reason.kind : undefined;
      if (stop === 'cancelled') {
        const outcome = { ...this.unfinishedOutcome(plan, text, undefined), status: 'cancelled' as const, finishReason: 'cancelled' };
        const after = await this.settle(plan, sessionId, answerId, outcome, title, signal);
        if (!announced) yield { ...started, model: plan.route.model.id };
        const usage = { inputTokens: outcome.tokensInput, outputTokens: outcome.tokensOutput, estimated: outcome.usageEstimated };
        yield {
          type: 'done',
          messageId: answerId,
          model: outcome.model,
          finishReason: 'cancelled',
          usage,
          cost: outcome.cost,
          title: after?.title ?? null,
          messageCount: after?.message_count ?? 0,
          providerMs: performance.now() - calledAt,
        };
        return;
      }
      const clientLeft = stopped && !stop;
      const partial = clientLeft ? (delivered?.() ?? text) : text;
      const error = clientLeft
        ? undefined
        : stop === 'shutdown'
          ? new ProblemException(
              HttpStatus.SERVICE_UNAVAILABLE,
              answerId === null
                ? 'The server is restarting; send again shortly.'
                : `The server is restarting; the text so far is saved. Resume with GET /v1/chat/messages/${answerId}/events.`,
            )
          : this.domainError(err);
      const outcome = this.unfinishedOutcome(plan, partial, error);
      const stored = stop === 'shutdown' ? { ...outcome, status: 'incomplete' as const, finishReason: null, error: undefined } : outcome;
      await this.settle(plan, sessionId, answerId, stored, title, signal);
      if (!error) return; // the client left: nobody to tell
      if (!announced) yield { ...started, model: plan.route.model.id };
      yield { type: 'failed', error, partialText: text };
    } finally {
      ended?.();
    }
  }

  /** Validates the request and plans the send: the session, the model chain (once) and the context. Reads only. */
  private async plan(user: AuthenticatedUser, request: TurnRequest, signal: AbortSignal): Promise<TurnPlan> {
    this.validate(request);
    const systemMessages = request.messages.filter((m) => m.role === 'system');
    const sent = request.messages
      .filter((m) => m.role !== 'system')
      .map((m): ChatTurn => ({
        role: m.role,
        content: m.content,
        ...(m.parts && { parts: m.parts }),
        ...(m.tool_call_id !== undefined && { toolCallId: m.tool_call_id }),
      }));
    const systemPrompt = systemMessages.length ? systemMessages.map((m) => m.content).join('\n\n') : undefined;

    let session: ChatSessionEntity | null = null;
    if (request.session_id !== undefined) {
      if (request.stateless) throw invalidField('session_id', 'a stateless send has no session');
      session = await this.chats.findOwned(user.id, request.session_id);
      if (session.archivedAt) {
        throw new ProblemException(HttpStatus.CONFLICT, 'This session is archived: restore it before sending to it.');
      }
    }
    await this.checkToolResults(request, session);
    // The request's model wins; without one, the session's (or, for a new session, the default) answers.
    const registered: RegisteredModel = request.model
      ? this.registry.resolve(request.model)
      : session
        ? this.registry.resolve(session.model)
        : this.registry.defaultModel();
    const limits = this.limitsOf(user);
    const needs = this.checkCapabilities(registered, request);
    const route = this.router.route(registered, 'answer', limits.allowsModel, needs);
    const model = route.model; // the first model of the chain that can answer: the context is built for it
    if (request.max_tokens !== undefined && request.max_tokens > model.maxOutputTokens) {
      throw invalidField('max_tokens', `must not exceed ${model.maxOutputTokens} for ${model.id}`);
    }
    if (request.max_tokens !== undefined && limits.maxOutputTokens !== undefined && request.max_tokens > limits.maxOutputTokens) {
      throw invalidField('max_tokens', `must not exceed ${limits.maxOutputTokens}, the max_output_tokens of your limits`);
    }
    // Built before storing anything, so a turn that can't be answered leaves no trace. A fallback gets the same
    // parts refitted to its own window (one it can't fit is skipped by the route).
    // A stateless send's messages are its whole context: no default system prompt is added.
    const system = request.stateless ? (systemPrompt ?? '') : systemPrompt;
    const maxTokens = request.max_tokens ?? limits.maxOutputTokens;
    // After the cheap checks (a model that can't read images fetches none), before the context counts their tokens.
    const turns = await this.checkImages(request, sent, signal);
    const context = await this.context.forSend(session, route.models, system, turns, maxTokens, request.parent_id);
    const stateless = request.stateless === true;
    // Stateless, the messages are the context as given: none may be dropped to fit the window.
    if (stateless && context.turns.filter((t) => t.part === 'message').length < turns.length) {
      throw invalidField(
        'messages',
        `need more tokens than ${model.id} can take (context window ${model.contextWindow}, of which ` +
          `${context.accounting.budget.reservedOutput} are reserved for the answer); send fewer or shorter messages`,
      );
    }
    const titler = stateless || session?.title ? undefined : this.titles.titleRoute(route);
    return {
      user,
      session,
      route,
      context,
      titler,
      systemPrompt,
      turns,
      ...(request.tools?.length && { tools: request.tools, ...(request.tool_choice && { toolChoice: request.tool_choice }) }),
      temperature: request.temperature,
      topP: request.top_p,
      stop: request.stop,
      sessionModel: registered.id,
      stateless,
      metadata: request.metadata,
      limits,
      quotas: [],
    };
  }

  /** The hooks' limits for `user`, combined: the smallest output limit, and a model every hook allows. */
  private limitsOf(user: AuthenticatedUser): TurnLimits {
    const all = this.hooks.map((h) => h.limits?.(user)).filter((l): l is TurnLimits => l !== undefined);
    const outputs = all.map((l) => l.maxOutputTokens).filter((n): n is number => n !== undefined);
    const checks = all.map((l) => l.allowsModel).filter((f): f is (model: RegisteredModel) => boolean => f !== undefined);
    return {
      maxOutputTokens: outputs.length ? Math.min(...outputs) : undefined,
      allowsModel: checks.length ? (model) => checks.every((allows) => allows(model)) : undefined,
    };
  }

  /**
   * Checks the request against the rules that need no database: sizes and counts from the configuration, which
   * parts each role may hold, non-empty messages, tool results with their call id, the last message, the tools.
   * @throws ProblemException 422 naming the field
   */
  private validate(request: TurnRequest): void {
    const { limits } = this.config;
    const max = limits.max_messages_per_request;
    if (request.messages.length > max) throw invalidField('messages', `must hold at most ${max} messages`);
    let images = 0;
    request.messages.forEach((m, i) => {
      const parts = m.parts ?? (m.content ? [{ type: 'text' as const, text: m.content }] : []);
      parts.forEach((part, j) => {
        const field = m.part_fields?.[j] ?? `messages.${i}.content.${j}`;
        if (!PARTS_BY_ROLE[m.role].includes(part.type)) {
          const roles = (Object.keys(PARTS_BY_ROLE) as MessageRole[]).filter((r) => PARTS_BY_ROLE[r].includes(part.type));
          throw invalidField(field, `${PART_NAMES[part.type]} are allowed only in ${roles.join(' and ')} messages`);
        }
        if (part.type !== 'image') return;
        if (++images > limits.max_images_per_request) throw invalidField(field, `a request may hold at most ${limits.max_images_per_request} images`);
        if (part.url.length > limits.max_image_url_length) {
          throw invalidField(field, `the image URL must be at most ${limits.max_image_url_length} characters`);
        }
      });
      if (m.role === 'user' && m.content.length > limits.max_input_length) {
        throw invalidField(`messages.${i}.content`, `must be at most ${limits.max_input_length} characters (MAX_INPUT_LENGTH)`);
      }
      const meaningful = m.content.trim() !== '' || parts.some((p) => p.type !== 'text');
      if (m.role !== 'system' && !meaningful) throw invalidField(`messages.${i}.content`, 'must not be empty');
      if (m.role === 'tool' && m.tool_call_id === undefined) {
        throw invalidField(`messages.${i}.tool_call_id`, 'is required on a tool message: the id of the tool call it answers');
      }
      if (m.role !== 'tool' && m.tool_call_id !== undefined) throw invalidField(`messages.${i}.tool_call_id`, 'is allowed only on tool messages');
    });
    // A regenerated answer has no new message: it answers the branch ending at `parent_id` again.
    if (!request.messages.length && request.parent_id !== undefined && request.session_id !== undefined) return this.validateTools(request.tools ?? [], request.tool_choice);
    const last = request.messages[request.messages.length - 1]?.role;
    if (last !== 'user' && last !== 'tool') {
      throw invalidField('messages', 'the last message must have role "user" (or be a tool result, role "tool")');
    }
    this.validateTools(request.tools ?? [], request.tool_choice);
  }

  /** Checks the tools against `tools.*` of the configuration, and that a named `tool_choice` is one of them. */
  private validateTools(tools: ToolDefinition[], choice: ToolChoice | undefined): void {
    const limits = this.config.tools;
    if (tools.length > limits.max_tools) throw invalidField('tools', `must hold at most ${limits.max_tools} tools`);
    const names = new Set<string>();
    tools.forEach((tool, i) => {
      const at = `tools.${i}.function`;
      if (names.has(tool.name)) throw invalidField(`${at}.name`, `"${tool.name}" is the name of an earlier tool: names must be unique`);
      names.add(tool.name);
      if ((tool.description?.length ?? 0) > limits.max_description_length) {
        throw invalidField(`${at}.description`, `must be at most ${limits.max_description_length} characters`);
      }
      const schema = Buffer.from(JSON.stringify(tool.parameters));
      if (schema.length > limits.max_parameters_bytes) throw invalidField(`${at}.parameters`, `must be at most ${limits.max_parameters_bytes} bytes of JSON`);
      if (jsonDepth(schema, limits.max_parameters_depth) > limits.max_parameters_depth) {
        throw invalidField(`${at}.parameters`, `must be nested at most ${limits.max_parameters_depth} levels deep`);
      }
    });
    if (choice === 'required' && !tools.length) throw invalidField('tool_choice', '"required" needs tools');
    if (typeof choice === 'object' && !names.has(choice.name)) {
      throw invalidField('tool_choice.function.name', `"${choice.name}" is not the name of one of tools`);
    }
  }

  /**
   * Tool results must sit where every protocol expects them (OpenAI, Anthropic and Gemini all refuse otherwise):
   * right after the assistant message whose calls they answer (other tool results between), each call of an
   * assistant message in the request answered before the next user or assistant message. Tool results at the start
   * of the request answer the session's last answer (read only then). System messages become the system prompt
   * and do not count.
   * @throws ProblemException 422 naming the tool message's `tool_call_id`, or the call left unanswered
   */
  private async checkToolResults(request: TurnRequest, session: ChatSessionEntity | null): Promise<void> {
    /** Calls the next tool results may answer, by id, with the field of each one of the request left to answer. */
    let open: Map<string, string | undefined> | undefined;
    let first = true;
    const unanswered = () => [...(open?.values() ?? [])].find((field) => field !== undefined);
    for (const [i, m] of request.messages.entries()) {
      if (m.role === 'system') continue;
      if (m.role === 'tool') {
        if (!open && first && session) open = new Map((await this.messages.lastAnswerToolCallIds(request.parent_id !== undefined ? request.parent_id : session.activeLeafId)).map((id) => [id, undefined]));
        if (!open?.has(m.tool_call_id!)) {
          throw invalidField(
            `messages.${i}.tool_call_id`,
            `"${m.tool_call_id}" is not the id of a tool call of the assistant message just before it` +
              (session ? " (or, at the start of the request, of the session's last answer)" : ''),
          );
        }
        open.delete(m.tool_call_id!);
        first = false;
        continue;
      }
      const left = unanswered();
      if (left) throw invalidField(left, 'this tool call has no result: answer it with a tool message right after its assistant message');
      first = false;
      open = undefined;
      if (m.role !== 'assistant') continue;
      const fields = m.part_fields;
      open = new Map(
        (m.parts ?? []).flatMap((p, j) => (p.type === 'tool_call' ? [[p.id, fields?.[j] ?? `messages.${i}.content.${j}`] as const] : [])),
      );
    }
    const left = unanswered();
    if (left) throw invalidField(left, 'this tool call has no result: answer it with a tool message right after its assistant message');
  }

  /**
   * What the request needs of its model beyond text; the model asked for must have it (its fallbacks are filtered
   * by the router).
   * @throws ModelCapabilityError (400) naming the model, the capability and the field that needs it
   */
  private checkCapabilities(model: RegisteredModel, request: TurnRequest): ModelNeeds {
    let image: string | undefined;
    for (const [i, m] of request.messages.entries()) {
      const j = m.parts?.findIndex((p) => p.type === 'image') ?? -1;
      if (j >= 0) {
        image = m.part_fields?.[j] ?? `messages.${i}.content.${j}`;
        break;
      }
    }
    const needs: ModelNeeds = { tools: Boolean(request.tools?.length), vision: image !== undefined };
    const missing = missingCapability(model, needs);
    if (missing) throw new ModelCapabilityError(model, missing, missing === 'supports_tools' ? 'tools' : image!);
    return needs;
  }

  /**
   * Checks the request's image parts before anything is stored (type, size, and for `https:` URLs a fetch through
   * the SSRF-safe fetcher), all at once; the first refusal stops the others. The one place images are checked.
   * @param turns the request's messages but its system messages, in order
   * @returns the turns, their image parts as checked (`media_type`, `width`, `height`, `bytes` set)
   * @throws ImageError (400/422) naming the part's field
   */
  private async checkImages(request: TurnRequest, turns: ChatTurn[], signal: AbortSignal): Promise<ChatTurn[]> {
    if (!turns.some((t) => t.parts?.some((p) => p.type === 'image'))) return turns;
    const fields = request.messages
      .map((m, i) => (j: number) => m.part_fields?.[j] ?? `messages.${i}.content.${j}`)
      .filter((_, i) => request.messages[i].role !== 'system');
    const first = new AbortController();
    const checking = AbortSignal.any([signal, first.signal]);
    try {
      return await Promise.all(
        turns.map(async (turn, k) => {
          if (!turn.parts?.some((p) => p.type === 'image')) return turn;
          const parts = await Promise.all(
            turn.parts.map((part, j) => (part.type === 'image' ? this.images.check(part, checking, fields[k](j)) : Promise.resolve(part))),
          );
          return { ...turn, parts };
        }),
      );
    } finally {
      first.abort();
    }
  }

  /**
   * One statement: the session (inserted, or its count and activity time updated), the turn and the placeholder.
   * @throws 404 when the session was deleted since it was read
   */
  private async recordTurn(plan: TurnPlan, alsoRecord?: TurnWrites): Promise<{ session: SessionRow; messageIds: number[]; answerId: number }> {
    const stmt = new SqlStatement();
    const newIds = this.messages.allocateTurnIds(stmt, plan.turns.length + 1);
    const session = this.sessions.recordTurn(
      stmt,
      plan.session?.id ??
        this.chats.newSessionFields(plan.user, { model: plan.sessionModel, systemPrompt: plan.systemPrompt, metadata: plan.metadata }),
      {
        added: plan.turns.length + 1,
        leaf: `(SELECT max(id) FROM ${newIds})`,
        systemPrompt: plan.session ? plan.systemPrompt : undefined,
        // The request's model becomes the session's (as switch-model does).
        model: plan.session && plan.session.model !== plan.sessionModel ? plan.sessionModel : undefined,
      },
    );
    // The turn follows what its context was read from: concurrent sends into one session become siblings, each
    // recorded after the history it was answered with (the last one stored becomes the active leaf).
    const parent = plan.context.follows;
    const messages = this.messages.insertTurn(stmt, session, newIds, parent, plan.turns, plan.route.model.id, INSTANCE_ID);
    alsoRecord?.(stmt, { sessionCte: session, messagesCte: messages });
    const [row] = await stmt.run<SessionRow & { ids: number[] }>(
      this.db,
      `SELECT ${session}.*, (SELECT array_agg(id ORDER BY id) FROM ${messages}) AS ids FROM ${session}`,
    );
    if (!row) throw notFound('Chat session');
    const { ids, ...rest } = row;
    return { session: rest, messageIds: ids.slice(0, -1), answerId: ids[ids.length - 1] };
  }

  /** The provider's answer as stream events: streamed upstream, or (`stream: false`) one call as one piece. */
  private async *answer(plan: TurnPlan, request: TurnRequest, signal: AbortSignal): AsyncIterable<AnswerPiece> {
    const requestFor = (candidate: RegisteredModel): Omit<ModelRequest, 'model'> => {
      const fitted = plan.context.refit(candidate);
      return {
        messages: fitted.turns.map(({ role, content, parts, toolCallId }) => ({
          role,
          content,
          ...(parts && { parts }),
          ...(toolCallId !== undefined && { toolCallId }),
        })),
        ...(plan.tools && { tools: plan.tools, ...(plan.toolChoice && { toolChoice: plan.toolChoice }) }),
        temperature: plan.temperature,
        topP: plan.topP,
        stop: plan.stop,
        // What the context reserved, so the answer can never overflow the window (and the preview shows it).
        maxTokens: fitted.accounting.budget.reservedOutput,
      };
    };
    if (request.stream !== false) {
      // Retries and fallbacks happen inside the route before the first piece, so `route.model` is settled then.
      yield* plan.route.stream(requestFor, signal);
      return;
    }
    const whole = await plan.route.complete(requestFor, signal);
    yield { type: 'delta', text: whole.text };
    yield { type: 'finish', finishReason: whole.finishReason, usage: whole.usage, toolCalls: whole.toolCalls };
  }

  /**
   * A complete answer, priced at the answering model's price now in force; the unit prices are stored with it, so
   * later price changes leave it be.
   */
  private outcome(plan: TurnPlan, text: string, toolCalls: ToolCallPart[], finishReason: string, usage: ModelUsage): AnswerOutcome {
    const model = plan.route.model;
    return {
      content: text,
      parts: [...textParts(text), ...toolCalls],
      status: 'complete',
      finishReason,
      model: model.id,
      attempts: plan.route.attempts,
      tokensInput: usage.inputTokens,
      tokensOutput: usage.outputTokens,
      tokensCached: usage.cachedInputTokens ?? 0,
      tokensReasoning: usage.reasoningTokens ?? 0,
      usageEstimated: usage.estimated,
      cost: costOf(model, usage),
      prices: pricesOf(model),
    };
  }

  /**
   * An answer that did not complete: `incomplete` when the client left (no `error`), `failed` otherwise.
   *
   * Usage is an estimate with the answering model's counter (as in the context preview): the context sent and
   * the text produced. A provider that failed before producing any text (refused credentials or request,
   * rate limits after retries, outages) bills nothing, so such an answer stores 0 tokens at no cost; it still
   * counts as a request. A client that left was cut off while a provider worked on its request, so it is charged.
   */
  private unfinishedOutcome(plan: TurnPlan, text: string, error: Error | undefined): AnswerOutcome {
    const model = plan.route.model;
    const charged = !error || text !== '';
    const counter = tokenCounterFor(model, this.config.contextManagement.token_estimate_factor);
    const sent = plan.route.request?.messages ?? []; // what the last model called was sent
    const usage: ModelUsage = { inputTokens: charged ? counter.countRequest(sent) : 0, outputTokens: counter.count(text), estimated: charged };
    // Tool calls of an unfinished answer may be cut anywhere: only its text is kept.
    return {
      content: text,
      parts: textParts(text),
      status: error ? 'failed' : 'incomplete',
      finishReason: error ? 'error' : null,
      model: model.id,
      attempts: plan.route.attempts,
      tokensInput: usage.inputTokens,
      tokensOutput: usage.outputTokens,
      tokensCached: 0,
      tokensReasoning: 0,
      usageEstimated: usage.estimated,
      cost: costOf(model, usage),
      prices: pricesOf(model),
      error: error?.message,
    };
  }

  /**
   * One statement: the answer, its usage in the ledger and the user's and session's totals; then the
   * `afterSettled` hooks, and the session's title and summary start in the background (no stream waits).
   * @returns the session as it is afterwards (undefined when it was deleted meanwhile)
   */
  private async settle(
    plan: TurnPlan,
    sessionId: number | null,
    answerId: number | null,
    outcome: AnswerOutcome,
    title: string | undefined,
    signal: AbortSignal,
  ): Promise<SessionRow | undefined> {
    const usage: ModelUsage = {
      inputTokens: outcome.tokensInput,
      outputTokens: outcome.tokensOutput,
      cachedInputTokens: outcome.tokensCached,
      reasoningTokens: outcome.tokensReasoning,
      estimated: outcome.usageEstimated,
    };
    const stmt = new SqlStatement();
    if (answerId !== null) this.messages.settleAnswer(stmt, answerId, outcome);
    await this.usage.recordCall(
      { userId: plan.user.id, applicationId: plan.user.applicationId, purpose: 'answer', model: plan.route.model, usage },
      stmt,
    );
    const session =
      sessionId === null
        ? undefined
        : this.sessions.recordAnswer(
            stmt,
            sessionId,
            { tokensInput: usage.inputTokens, tokensOutput: usage.outputTokens, cost: outcome.cost },
            title,
          );
    const select = session ? `SELECT * FROM ${session}` : 'SELECT NULL WHERE false';
    const [row] = await inSpan('chat.settle', { 'chat.message.status': outcome.status }, () =>
      answerId === null ? stmt.run<SessionRow>(this.db, select) : this.store(plan.user.id, sessionId, answerId, stmt, select, signal),
    );
    for (const hook of this.hooks) {
      try {
        await hook.afterSettled?.({ plan, sessionId, messageId: answerId, outcome });
      } catch (err) {
        this.logger.error(`A turn hook failed after answer ${answerId}: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
    if (row && outcome.status === 'complete') {
      const after = { id: row.id, userId: row.user_id, title: row.title, messageCount: row.message_count };
      this.titles.afterAnswer(after, plan.titler, firstUserText(plan), outcome.content, plan.user);
      this.summaries.afterAnswer(after, plan.user);
    }
    return row;
  }

  /**
   * Runs the statement storing an answer. When PostgreSQL is out of reach the answer is kept (here, and in its event
   * log) and the statement retried with backoff for up to `streams.persist_retry_ms`; a retry first checks, with the
   * answer's row locked, that no earlier attempt committed (its reply may have been lost with the connection), so
   * the answer, its usage and the session's totals are stored exactly once. Retries stop when the process shuts down.
   * @returns the statement's rows (a retry finding the answer stored returns the session as it is now)
   * @throws AnswerNotStoredError when the database stayed out of reach; the statement's own error otherwise
   */
  private async store(
    userId: number,
    sessionId: number | null,
    answerId: number,
    stmt: SqlStatement,
    select: string,
    signal: AbortSignal,
  ): Promise<SessionRow[]> {
    const deadline = Date.now() + this.config.streams.persist_retry_ms;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt === 0) return await stmt.run<SessionRow>(this.db, select);
        const rows = await this.db.transaction(async (tx) =>
          (await this.messages.lockUnsettled(tx, answerId, INSTANCE_ID)) ? stmt.run<SessionRow>(tx, select) : null,
        );
        if (rows) this.logger.log(`Answer ${answerId} stored after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}`);
        return rows ?? (await this.currentSession(userId, sessionId));
      } catch (err) {
        if (!isDatabaseUnavailable(err)) throw err;
        const shuttingDown = signal.aborted && signal.reason instanceof AnswerStop && signal.reason.kind === 'shutdown';
        const wait = Math.min(PERSIST_RETRY_BASE_MS * 2 ** attempt, PERSIST_RETRY_MAX_MS, deadline - Date.now());
        if (wait <= 0 || shuttingDown) {
          this.logger.error(`Answer ${answerId} could not be stored: the database stayed out of reach (${(err as Error).message})`);
          throw new AnswerNotStoredError(answerId);
        }
        if (attempt === 0) this.logger.warn(`Answer ${answerId} is kept until the database answers: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** The session's row as the settle statement returns it. */
  private async currentSession(userId: number, sessionId: number | null): Promise<SessionRow[]> {
    const session = sessionId === null ? null : await this.sessions.findOwned(userId, sessionId);
    return session ? [{ id: session.id, user_id: session.userId, title: session.title, message_count: session.messageCount }] : [];
  }

  /** A failure as the domain error the edge maps; anything unexpected is logged and becomes a plain Error. */
  private domainError(err: unknown): Error {
    if (err instanceof DomainError || err instanceof ProblemException) return err;
    this.logger.error(`Unexpected failure while answering: ${(err as Error)?.stack ?? String(err)}`);
    return new Error('The answer failed unexpectedly. It has been logged.');
  }
}

/** The unit prices an answer of `model` is costed with now (a missing cached-input price is the input price). */
function pricesOf(model: RegisteredModel): AnswerPrices {
  const { inputPer1m, outputPer1m, cachedInputPer1m = inputPer1m, pricedAt } = model.pricing;
  return { inputPer1m, cachedInputPer1m, outputPer1m, pricedAt };
}

/**
 * The text of the plan's first user message, what titles a new session: for a message of images only, `Image` or
 * `N images`; '' when the send holds none (e.g. only tool results).
 */
function firstUserText(plan: TurnPlan): string {
  const first = plan.turns.find((t) => t.role === 'user');
  if (!first || first.content) return first?.content ?? '';
  // A message of images only still titles its session.
  const images = first.parts?.filter((p) => p.type === 'image').length ?? 0;
  return images === 1 ? 'Image' : images > 1 ? `${images} images` : '';
}

/** An answer's text as parts: one text part, none when it is empty. */
function textParts(text: string): ContentPart[] {
  return text ? [{ type: 'text', text }] : [];
}

/** Tool calls assembled from their streamed pieces, in index order (pieces without an id or a name are dropped). */
function wholeCalls(calls: { id?: string; name?: string; arguments: string }[]): ToolCallPart[] {
  return calls
    .filter((c): c is { id: string; name: string; arguments: string } => c?.id !== undefined && c.name !== undefined)
    .map((c) => ({ type: 'tool_call', id: c.id, name: c.name, arguments: c.arguments }));
}
