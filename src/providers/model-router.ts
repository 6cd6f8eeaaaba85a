import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../common/domain-error';
import { inContext } from '../common/tracing';
import { AppConfig, appConfig } from '../config/app-config';
import { RetriesConfig } from '../config/file-config';
import { MetricsService } from '../metrics/metrics.service';
import { abortError, isAbortError } from './abort';
import { ModelCallTelemetry } from './model-call-telemetry';
import {
  ModelCompletion,
  ModelProvider,
  ModelProviderError,
  ModelRequest,
  ModelStreamEvent,
} from './model-provider';
import { ModelAttempt } from './model-attempt';
import { ModelProviderFactory } from './model-provider.factory';
import { missingCapability, ModelNeeds, ModelRegistry, RegisteredModel } from './model-registry';

/** Error kinds worth calling the same model again for: they are usually gone a moment later. */
const RETRYABLE = new Set<ModelProviderError['kind']>(['rate_limited', 'unavailable', 'timeout']);

/**
 * How long to wait before calling the same model again after `err`, or undefined when it should not be called
 * again (the error is not transient, attempts are used up, or the provider asked for a longer wait than
 * `max_delay_ms`). Backoff is exponential with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): half of `min(max, base × 2^(attempt-1))` fixed, half random. A `Retry-After` is honoured as given.
 * @param attempt calls made to this model so far (1 after the first call failed)
 * @param random a number in [0, 1), `Math.random` unless a test fixes it
 * @returns milliseconds to wait, or undefined
 */
export function retryDelayMs(
  err: ModelProviderError,
  attempt: number,
  policy: RetriesConfig,
  random: () => number = Math.random,
): number | undefined {
  if (!RETRYABLE.has(err.kind) || attempt >= policy.max_attempts) return undefined;
  if (err.retryAfterSeconds !== undefined) {
    const asked = err.retryAfterSeconds * 1000;
    return asked > policy.max_delay_ms ? undefined : asked;
  }
  const ceiling = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * What a route sends: one request for every model, or a function building each model's own (a send's context is
 * fitted to each model's window). Either way without the model: the route sets each model's upstream name and caps
 * `maxTokens` at the model's maximum. A function throws a `context.too_small` DomainError when the request cannot be
 * fitted to that model: the model is then skipped as a `context_too_small` attempt.
 */
export type RouteRequest = Omit<ModelRequest, 'model'> | ((model: RegisteredModel) => Omit<ModelRequest, 'model'>);

/** One candidate of a route: the model and the adapter that answers for it. */
interface Candidate {
  model: RegisteredModel;
  provider: ModelProvider;
}

/**
 * Calls a model with timeouts, retries and fallbacks (see {@link ModelRoute}). One per application; call
 * {@link route} once per answer.
 */
@Injectable()
export class ModelRouter {
  private readonly logger = new Logger(ModelRouter.name);

  constructor(
    private readonly registry: ModelRegistry,
    private readonly factory: ModelProviderFactory,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /**
   * Plans an answer by `model`: the model, then its `fallbacks` in order. Models whose provider is not configured
   * are skipped at once and recorded as `not_configured` attempts.
   * @param purpose why the call is made (`answer`, `title`, `summary`, `preview`), for metrics and traces
   * @param allowsFallback the caller's model policy (`allowed_models`): a fallback it refuses is left out of the
   *        chain and never called (the model asked for is checked by the caller, so it can be refused clearly)
   * @param needs what the request needs beyond text (tools, images): a model of the chain lacking it is left out and
   *        never called (the model asked for is checked by the caller, so it can be refused clearly)
   * @throws ModelProviderError `not_configured` when no model of the chain is configured (the last one's)
   */
  route(
    model: RegisteredModel,
    purpose = 'answer',
    allowsFallback?: (fallback: RegisteredModel) => boolean,
    needs?: ModelNeeds,
  ): ModelRoute {
    const { candidates, skipped, unavailable } = this.plan(model, allowsFallback, needs);
    if (!candidates.length) throw unavailable;
    if (skipped.length) this.logger.warn(`Answering with ${candidates[0].model.id}: ${skipped.map((s) => s.model).join(', ')} not configured`);
    return new ModelRoute(candidates, skipped, this.config, this.logger, { metrics: this.metrics, purpose });
  }

  /**
   * The model that answers a request for `model` unless calls fail: the first model of its chain that is
   * configured (the offline model in offline mode), as {@link route} picks it, without logging.
   * @returns that model, or null when no model of the chain is configured
   */
  answeringModel(model: RegisteredModel): RegisteredModel | null {
    return this.plan(model).candidates[0]?.model ?? null;
  }

  /** The chain of `model` split into the candidates that can be called and the ones skipped as not configured. */
  private plan(
    model: RegisteredModel,
    allowsFallback?: (fallback: RegisteredModel) => boolean,
    needs?: ModelNeeds,
  ): { candidates: Candidate[]; skipped: ModelAttempt[]; unavailable: unknown } {
    const candidates: Candidate[] = [];
    const skipped: ModelAttempt[] = [];
    let unavailable: unknown;
    for (const name of [model.id, ...model.fallbacks]) {
      const registered = this.registry.resolve(name);
      if (allowsFallback && registered.id !== model.id && !allowsFallback(registered)) continue;
      if (registered.id !== model.id && missingCapability(registered, needs)) continue;
      try {
        const selection = this.factory.forModel(registered);
        // A stand-in (the offline model in offline mode) must be able to serve the request too.
        if (missingCapability(selection.model, needs)) continue;
        // In offline mode every model maps to the offline one: try it once.
        if (!candidates.some((c) => c.model.id === selection.model.id)) candidates.push(selection);
      } catch (err) {
        if (!(err instanceof ModelProviderError && err.kind === 'not_configured')) throw err;
        unavailable = err;
        skipped.push({ model: name, error_kind: 'not_configured', upstream_status: null, retries: 0 });
      }
    }
    return { candidates, skipped, unavailable };
  }
}

/**
 * One answer's way through a chain of models. Each model is called with a first-token timeout
 * (`limits.provider_first_token_timeout_ms`) and, once streaming, an idle timeout between pieces
 * (`limits.provider_idle_timeout_ms`); both abort the upstream request and count as a `timeout` failure.
 * A failure before the first piece is retried on the same model ({@link retryDelayMs}), then the next model of
 * the chain is tried; a failure after the first piece is final, since a retry would repeat text the client has
 * seen. The caller's abort is never retried. A model the request can't be fitted to is skipped without a call;
 * that never hides a provider's failure from the client (`context.too_small` is thrown only when no model was called).
 *
 * `model` is the model answering (after a failure: the last one called); `attempts` lists every model tried.
 */
export class ModelRoute {
  private current = 0;
  private sent?: ModelRequest;
  readonly attempts: ModelAttempt[];

  constructor(
    private readonly candidates: Candidate[],
    private readonly skipped: ModelAttempt[],
    private readonly config: AppConfig,
    private readonly logger: Logger,
    private readonly observed: { metrics?: MetricsService; purpose: string } = { purpose: 'answer' },
  ) {
    this.attempts = skipped.map((a) => ({ ...a }));
  }

  /** The model answering now; after a failure, the last one called. */
  get model(): RegisteredModel {
    return this.candidates[this.current].model;
  }

  /** The models of the chain that can be called, in order (the ones not configured left out). */
  get models(): RegisteredModel[] {
    return this.candidates.map((c) => c.model);
  }

  /** The request sent to {@link model}; undefined before the first call. */
  get request(): ModelRequest | undefined {
    return this.sent;
  }

  /**
   * A fresh route over the same planned chain (the same models and adapters, no attempts yet), for another call
   * made for the same send, such as its title: the chain is planned once per send.
   */
  again(purpose = this.observed.purpose): ModelRoute {
    return new ModelRoute(this.candidates, this.skipped, this.config, this.logger, { ...this.observed, purpose });
  }

  /**
   * Streams the answer of the first model that produces one; the events are the adapter's.
   * @throws ModelProviderError the last failure when every model failed, or a failure after the first piece
   * @throws DomainError the first skipped model's `context.too_small` when the request could be fitted to no model
   * @throws an abort error (see `isAbortError`) when `signal` aborts
   */
  async *stream(build: RouteRequest, signal: AbortSignal): AsyncIterable<ModelStreamEvent> {
    const skipped: { error?: DomainError } = {};
    let lastError: ModelProviderError | undefined;
    for (const { provider, request, attempt } of this.calls(build, skipped)) {
      for (let calls = 1; ; calls++) {
        let started = false; // an event reached the consumer: no retry, no fallback from here on
        try {
          for await (const event of this.guarded(provider, request, signal, this.telemetry(request))) {
            if (!started) {
              // This model answers: the failures that made it retry are history (the consumer may stop at `finish`).
              attempt.error_kind = null;
              attempt.upstream_status = null;
            }
            started = true;
            yield event;
          }
          return;
        } catch (err) {
          const failure = this.classify(err, signal, attempt);
          if (started) throw failure;
          lastError = failure;
          if (!(await this.retried(failure, calls, attempt, signal))) break;
        }
      }
    }
    throw lastError ?? skipped.error!;
  }

  /**
   * Produces the whole answer of the first model that gives one. Bounded by the adapter's whole-call timeout
   * (`limits.provider_timeout_ms`), not the first-token one: a whole answer takes as long as its last token.
   * @throws ModelProviderError the last failure when every model failed
   * @throws DomainError the first skipped model's `context.too_small` when the request could be fitted to no model
   * @throws an abort error (see `isAbortError`) when `signal` aborts
   */
  async complete(build: RouteRequest, signal: AbortSignal): Promise<ModelCompletion> {
    const skipped: { error?: DomainError } = {};
    let lastError: ModelProviderError | undefined;
    for (const { provider, request, attempt } of this.calls(build, skipped)) {
      for (let calls = 1; ; calls++) {
        const telemetry = this.telemetry(request);
        try {
          const completion = await context.with(telemetry.ctx, () => provider.complete(request, signal));
          telemetry.succeeded(request.model, completion.finishReason, completion.usage);
          attempt.error_kind = null;
          attempt.upstream_status = null;
          return completion;
        } catch (err) {
          telemetry.failed(err);
          lastError = this.classify(err, signal, attempt);
          if (!(await this.retried(lastError, calls, attempt, signal))) break;
        }
      }
    }
    throw lastError ?? skipped.error!;
  }

  /**
   * The models of the chain in order, each with its attempt record and the request fitted to it. A model the
   * request can't be fitted to is recorded as a skipped attempt, and the first such error kept in `skipped.error`
   * (thrown only when no model was called at all).
   */
  private *calls(
    build: RouteRequest,
    skipped: { error?: DomainError },
  ): Generator<{ provider: ModelProvider; request: ModelRequest; attempt: ModelAttempt }> {
    for (const [i, { model, provider }] of this.candidates.entries()) {
      const attempt = this.begin(model, i);
      const request = this.requestFor(i, build, attempt);
      if (request instanceof DomainError) skipped.error ??= request;
      else yield { provider, request, attempt };
    }
  }

  private begin(model: RegisteredModel, i: number): ModelAttempt {
    if (i > 0) {
      const previous = this.attempts[this.attempts.length - 1];
      this.logger.warn(`Falling back from ${previous.model} (${previous.error_kind}) to ${model.id}`);
      this.observed.metrics?.fallback(previous.model, model.id);
    }
    const attempt: ModelAttempt = { model: model.id, error_kind: null, upstream_status: null, retries: 0 };
    this.attempts.push(attempt);
    return attempt;
  }

  /**
   * Candidate `i`'s request as its model expects it (its upstream name, no more output than it can give), which
   * then becomes the current model and request.
   * @returns the `context.too_small` error instead when the request can't be fitted to the model (recorded on `attempt`)
   */
  private requestFor(i: number, build: RouteRequest, attempt: ModelAttempt): ModelRequest | DomainError {
    const { model } = this.candidates[i];
    let request: Omit<ModelRequest, 'model'>;
    try {
      request = typeof build === 'function' ? build(model) : build;
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'context.too_small') throw err;
      attempt.error_kind = 'context_too_small';
      this.logger.warn(`Skipping ${model.id}: ${err.message}`);
      return err;
    }
    const maxTokens = request.maxTokens === undefined ? undefined : Math.min(request.maxTokens, model.maxOutputTokens);
    this.current = i;
    this.sent = { ...request, model: model.upstreamModel, maxTokens };
    return this.sent;
  }

  /**
   * Records a failure on the attempt and returns it as a ModelProviderError.
   * @throws the caller's abort as it is: never retried, never recorded as a provider failure
   */
  private classify(err: unknown, signal: AbortSignal, attempt: ModelAttempt): ModelProviderError {
    if (signal.aborted) throw isAbortError(err) ? err : abortError(signal);
    if (!(err instanceof ModelProviderError)) throw err;
    attempt.error_kind = err.kind;
    attempt.upstream_status = err.upstreamStatus ?? null;
    return err;
  }

  /** Waits before calling the same model again. @returns false when it should not be called again */
  private async retried(err: ModelProviderError, calls: number, attempt: ModelAttempt, signal: AbortSignal): Promise<boolean> {
    const delay = retryDelayMs(err, calls, this.config.retries);
    if (delay === undefined) return false;
    const status = err.upstreamStatus ? ` (HTTP ${err.upstreamStatus})` : '';
    this.logger.warn(`Retrying ${attempt.model} in ${delay} ms after ${err.kind}${status}, retry ${attempt.retries + 1}`);
    try {
      await sleep(delay, undefined, { signal });
    } catch (e) {
      throw isAbortError(e) ? abortError(signal) : e;
    }
    attempt.retries++; // counted once the call is about to happen, not when the wait was cut short
    this.observed.metrics?.retry(attempt.model);
    return true;
  }

  /**
   * The adapter's stream under the first-token and idle timeouts. When one fires, the upstream request is
   * aborted and a `timeout` ModelProviderError is thrown.
   */
  private async *guarded(
    provider: ModelProvider,
    request: ModelRequest,
    signal: AbortSignal,
    telemetry: ModelCallTelemetry,
  ): AsyncIterable<ModelStreamEvent> {
    const { provider_first_token_timeout_ms: firstMs, provider_idle_timeout_ms: idleMs } = this.config.limits;
    const upstream = new AbortController();
    const onAbort = () => upstream.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut: ModelProviderError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number, message: string) => {
      timer = setTimeout(() => {
        timedOut = new ModelProviderError('timeout', message);
        upstream.abort(timedOut);
      }, ms);
    };
    arm(firstMs, `The model provider sent nothing within ${firstMs} ms.`);
    try {
      for await (const event of inContext(telemetry.ctx, provider.stream(request, upstream.signal))) {
        // The clock stops while the consumer handles the event (writing to the client, storing the answer).
        clearTimeout(timer);
        if (event.type === 'delta') telemetry.piece();
        else if (event.type === 'finish') telemetry.succeeded(request.model, event.finishReason, event.usage);
        yield event;
        arm(idleMs, `The model provider stopped sending for ${idleMs} ms.`);
      }
    } catch (err) {
      const failure = timedOut && !signal.aborted ? timedOut : err;
      telemetry.failed(failure);
      throw failure;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      telemetry.ended();
    }
  }

  /** Starts watching a call of the current model with `request` (metrics and a trace span). */
  private telemetry(request: ModelRequest): ModelCallTelemetry {
    return new ModelCallTelemetry(this.observed.metrics, this.model, request, this.observed.purpose);
  }
}
