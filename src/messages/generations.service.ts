import { QuotaState } from '../common/quota';
import { BeforeApplicationShutdown, HttpStatus, Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { Draining } from '../common/draining';
import { ProblemException } from '../common/problem';
import { problemOf } from '../common/problem-details';
import { AppConfig, appConfig } from '../config/app-config';
import { AnswerEvent } from '../streams/answer-log';
import { AnswerStreams } from '../streams/answer-streams.service';
import { doneDto } from './answer-events';
import { AnswerStop } from './answer-stop';
import { ChatTurnService, TurnEvent, TurnRequest, TurnWrites } from './chat-turn.service';
import { MessagesRepository } from './messages.repository';

/** An answer this instance generates. */
interface RunningAnswer {
  controller: AbortController;
  /** The text produced so far, and how much of it the last checkpoint saved. */
  text: string;
  saved: number;
  /** Number of the last event published. */
  n: number;
  /** Our own time before the provider was called (ms), once known. */
  preparedMs?: number;
  /** The domain error behind the final `error` event, if any. */
  error?: Error;
  /** Settles when the turn engine is done with the answer (it is stored). */
  finished: Promise<void>;
}

/** A send once its turn and answer row are stored. */
export interface StartedAnswer {
  sessionId: number;
  messageId: number;
  sessionCreated: boolean;
  /** Quotas the send counted against (budgets), for the edge's RateLimit headers. */
  quotas: QuotaState[];
  /** The answer's events from the first, as they happen (null: nothing new for a while). */
  events: AsyncIterable<AnswerEvent | null>;
  /** The domain error behind a final `error` event (so the edge can answer with its status before any SSE byte). */
  error: () => Error | undefined;
  /** Our own time before the provider was called (ms), once the answer has started. */
  preparedMs: () => number | undefined;
}

/** How a send is tied to its client. */
export interface StartOptions {
  /** True: the client's leaving does not stop the answer. */
  background: boolean;
  /** Aborts when the client leaves; it also ends `events`. */
  clientSignal: AbortSignal;
  /** The answer's text the client has received (stored when it leaves a non-background answer). */
  delivered?: () => string;
  /** Request path, for the `instance` of problems in `error` events. */
  path?: string;
  /** Writes committed together with the turn (the send's idempotency key). */
  alsoRecord?: TurnWrites;
}

/**
 * Durable generations: runs the turn engine detached from the HTTP connection and publishes its events, numbered
 * from 1, to the answer's log ({@link AnswerStreams}), so any instance can resume or stop the answer. While an
 * answer runs, its text is checkpointed to its row every `streams.checkpoint_ms` together with its heartbeat; every
 * instance sweeps answers whose instance stopped heart-beating for `streams.lease_ms` to `incomplete`.
 */
@Injectable()
export class GenerationsService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(GenerationsService.name);
  private readonly running = new Map<number, RunningAnswer>();
  /** Stateless answers running here (no row, no log): waited for at shutdown like the others. */
  private readonly statelessRunning = new Set<Pick<RunningAnswer, 'controller' | 'finished'>>();
  private checkpointTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly turns: ChatTurnService,
    private readonly streams: AnswerStreams,
    private readonly messages: MessagesRepository,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly draining: Draining,
  ) {}

  onModuleInit(): void {
    this.streams.cancels.subscribe((answerId) => this.running.get(answerId)?.controller.abort(new AnswerStop('cancelled')));
    this.checkpointTimer = setInterval(() => void this.checkpoint(), this.config.streams.checkpoint_ms).unref();
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.streams.sweep_interval_ms).unref();
  }

  /**
   * Runs a send. Resolves once the turn and the answer's `in_progress` row are stored.
   * @throws what the turn engine throws before storing anything (bad input, unknown session, refusing hook…);
   *         503 while the process shuts down
   */
  async start(user: AuthenticatedUser, request: TurnRequest, options: StartOptions): Promise<StartedAnswer> {
    this.refuseWhileDraining();
    const controller = new AbortController();
    const onClientLeft = () => controller.abort(new DOMException('The client closed the connection.', 'AbortError'));
    if (!options.background) options.clientSignal.addEventListener('abort', onClientLeft, { once: true });
    const iterator = this.turns.run(user, request, controller.signal, options.delivered, options.alsoRecord)[Symbol.asyncIterator]();
    let first: IteratorResult<TurnEvent>;
    try {
      first = await iterator.next();
    } catch (err) {
      options.clientSignal.removeEventListener('abort', onClientLeft);
      throw err;
    }
    const stored = first.value as Extract<TurnEvent, { type: 'stored' }>;
    const answer: RunningAnswer = { controller, text: '', saved: 0, n: 0, finished: Promise.resolve() };
    this.running.set(stored.messageId, answer);
    this.streams.open(stored.messageId);
    answer.finished = this.drive(stored.messageId, answer, iterator, options.path).finally(() => {
      options.clientSignal.removeEventListener('abort', onClientLeft);
      this.running.delete(stored.messageId);
    });
    const events = await this.streams.follow(stored.messageId, 0, options.clientSignal, this.config.streams.follow_check_ms);
    return {
      sessionId: stored.sessionId,
      messageId: stored.messageId,
      sessionCreated: stored.sessionCreated,
      quotas: stored.quotas,
      events: events!,
      error: () => answer.error,
      preparedMs: () => answer.preparedMs,
    };
  }

  /**
   * Runs a stateless send (`stateless: true`: nothing stored but its usage, so there is no log to resume): the turn
   * engine's events, pulled by the caller, who must read them to the end. The client's leaving aborts the answer.
   * Resolves at the first event (the provider's first piece, or its failure).
   * @throws like {@link start}
   */
  async runStateless(
    user: AuthenticatedUser,
    request: TurnRequest,
    clientSignal: AbortSignal,
  ): Promise<{ events: AsyncIterable<TurnEvent>; quotas: QuotaState[] }> {
    this.refuseWhileDraining();
    const controller = new AbortController();
    const onClientLeft = () => controller.abort(new DOMException('The client closed the connection.', 'AbortError'));
    clientSignal.addEventListener('abort', onClientLeft, { once: true });
    const iterator = this.turns.run(user, { ...request, stateless: true }, controller.signal)[Symbol.asyncIterator]();
    let first: IteratorResult<TurnEvent>;
    try {
      first = await iterator.next();
    } catch (err) {
      clientSignal.removeEventListener('abort', onClientLeft);
      throw err;
    }
    let finish!: () => void;
    const entry = { controller, finished: new Promise<void>((resolve) => (finish = resolve)) };
    this.statelessRunning.add(entry);
    const rest = async function* (): AsyncGenerator<TurnEvent> {
      try {
        for (let next = first; !next.done; next = await iterator.next()) yield next.value;
      } finally {
        clientSignal.removeEventListener('abort', onClientLeft);
        finish();
      }
    };
    void entry.finished.then(() => this.statelessRunning.delete(entry));
    return { events: rest(), quotas: !first.done && first.value.type === 'started' ? first.value.quotas : [] };
  }

  private refuseWhileDraining(): void {
    if (this.draining.active) {
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'This server is restarting; send again shortly.', {}, { 'Retry-After': '1' });
    }
  }

  /** Publishes the engine's events until the answer is settled. */
  private async drive(id: number, answer: RunningAnswer, iterator: AsyncIterator<TurnEvent>, path?: string): Promise<void> {
    const publish = (type: AnswerEvent['type'], data: Record<string, unknown>) =>
      this.streams.publish(id, { n: ++answer.n, type, data });
    let ended = false;
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        const event = next.value;
        switch (event.type) {
          case 'started':
            answer.preparedMs = event.preparedMs;
            publish('start', { session_id: event.sessionId, message_id: event.messageId, model: event.model });
            break;
          case 'delta':
            answer.text += event.text;
            publish('delta', { text: event.text });
            break;
          case 'tool_call_delta': {
            const { type: _type, ...piece } = event;
            publish('tool_call_delta', piece);
            break;
          }
          case 'tool_call': {
            const { type: _type, ...call } = event;
            publish('tool_call', call);
            break;
          }
          case 'done':
            ended = true;
            publish('done', doneDto({ ...event, messageId: id }, answer.preparedMs ?? 0));
            break;
          case 'failed':
            ended = true;
            answer.error = event.error;
            publish('error', { ...problemOf(event.error, { originalUrl: path }) });
            break;
        }
      }
      // The client of a non-background answer left: the answer is stored `incomplete`; other readers are told.
      if (!ended) publish('done', { message_id: id, finish_reason: null, status: 'incomplete' });
    } catch (err) {
      // Settling failed (e.g. the database went away): readers get an error, never a silent end.
      answer.error = err as Error;
      if (!ended) publish('error', { ...problemOf(err, { originalUrl: path }) });
    }
  }

  /** True when this instance generates the answer. */
  isRunningHere(answerId: number): boolean {
    return this.running.has(answerId);
  }

  /**
   * Asks whichever instance generates the answer to stop it (stored `cancelled`, readers get `done` with
   * `finish_reason: "cancelled"`). Resolves when it is stopped here, or once the request is sent elsewhere.
   */
  async cancel(answerId: number): Promise<void> {
    const here = this.running.get(answerId);
    if (here) {
      here.controller.abort(new AnswerStop('cancelled'));
      await here.finished;
      return;
    }
    await this.streams.cancels.publish(answerId);
  }

  /** One statement: the text of every answer running here that changed, and all their heartbeats. */
  private async checkpoint(): Promise<void> {
    if (!this.running.size) return;
    const rows = [...this.running].map(([id, a]) => {
      const changed = a.text.length !== a.saved;
      a.saved = a.text.length;
      return { id, content: changed ? a.text : undefined };
    });
    try {
      await this.messages.checkpoint(rows);
    } catch (err) {
      this.logger.warn(`Checkpoint of ${rows.length} answer(s) failed: ${(err as Error).message}`);
      for (const row of rows) {
        const answer = this.running.get(row.id);
        if (answer && row.content !== undefined) answer.saved = -1; // saved again next time
      }
    }
  }

  private async sweep(): Promise<void> {
    try {
      const swept = await this.messages.sweepAbandoned(this.config.streams.lease_ms);
      if (swept.length) this.logger.warn(`Marked ${swept.length} abandoned answer(s) incomplete: ${swept.join(', ')}`);
    } catch (err) {
      this.logger.warn(`Sweep of abandoned answers failed: ${(err as Error).message}`);
    }
  }

  /**
   * Shutdown (SIGTERM): readiness turns 503 at once and new sends are refused; running answers get
   * `shutdown.grace_ms` to finish. Each one still running then is stopped: stored `incomplete` with the text
   * produced so far, and its readers get an `error` (503, saying to resume with the events route) and `[DONE]`.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining.start();
    const everyAnswer = () => [...this.running.values(), ...this.statelessRunning];
    const all = () => Promise.all(everyAnswer().map((a) => a.finished));
    if (everyAnswer().length) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.shutdown.grace_ms)));
      await Promise.race([all(), grace]);
      clearTimeout(timer);
      const left = everyAnswer();
      if (left.length) this.logger.warn(`Stopping ${left.length} answer(s) still running after the grace time`);
      for (const answer of left) answer.controller.abort(new AnswerStop('shutdown'));
      await all();
    }
    await this.streams.drain();
  }

  onApplicationShutdown(): void {
    clearInterval(this.checkpointTimer);
    clearInterval(this.sweepTimer);
  }
}
