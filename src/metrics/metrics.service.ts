import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { timingSafeEqual } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MetricsConfig } from './metrics.config';

/** The labels every model-call metric carries (bounded: registry ids, never user input). */
export interface ModelCallLabels {
  /** Provider name from the registry (`openai`, `anthropic`, `offline`, …). */
  provider: string;
  /** Registry id of the model called. */
  model: string;
  /** Why the call was made, as the usage ledger names it: `answer`, `title`, `summary`, `preview`. */
  purpose: string;
}

/** Where a streamed call's timings go, bound to its provider, model and purpose (see `MetricsService.streamObservers`). */
export interface StreamObservers {
  /** The first piece arrived, `seconds` after the call. */
  firstToken(seconds: number): void;
  /** A further piece arrived, `seconds` after the previous one. */
  tokenGap(seconds: number): void;
  /** A streamed answer ended: `seconds` per output token after the first (one sample per answer). */
  timePerOutputToken(seconds: number): void;
}

/** Seconds buckets for model calls: first tokens arrive in tens of ms to tens of seconds. */
const MODEL_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds buckets for the gap between two pieces and the time per output token: a few ms to a few hundred ms. */
const PER_TOKEN_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The process's Prometheus metrics (prom-client), one registry per application instance, so two apps in one
 * process (tests) never share counters. Names follow the OpenTelemetry semantic conventions in Prometheus form
 * where one exists (GenAI: `gen_ai.client.operation.duration`, `gen_ai.server.time_to_first_token`,
 * `gen_ai.server.time_per_output_token`, `gen_ai.client.token.usage`; HTTP: `http.server.request.duration`;
 * database: `db.client.connection.count`): dots become underscores and the unit is a suffix.
 *
 * Every label value is bounded: route templates, registry ids, enumerated kinds — never a raw path, a user id or
 * message text.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests, by route template, method and status code.',
    labelNames: ['http_route', 'http_request_method', 'http_response_status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private readonly callDuration = new Histogram({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'Duration of model calls, from the request to the last piece, by provider, model, purpose and outcome.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose', 'error_type'],
    buckets: MODEL_BUCKETS,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: 'gen_ai_server_time_to_first_token_seconds',
    help: 'Time from a streamed model call to its first piece.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose'],
    buckets: MODEL_BUCKETS,
    registers: [this.registry],
  });
  private readonly gap = new Histogram({
    name: 'chat_stream_token_gap_seconds',
    help: 'Gap between two consecutive streamed pieces of one answer (the time per output token, piece by piece).',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose'],
    buckets: PER_TOKEN_BUCKETS,
    registers: [this.registry],
  });
  private readonly perToken = new Histogram({
    name: 'gen_ai_server_time_per_output_token_seconds',
    help: 'Time per output token after the first of a successful streamed answer: (end - first token) / (output tokens - 1), one sample per answer.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose'],
    buckets: PER_TOKEN_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'gen_ai_client_token_usage_total',
    help: 'Tokens used by model calls (input includes cached, output includes reasoning), as the ledger records them.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose', 'gen_ai_token_type'],
    registers: [this.registry],
  });
  private readonly cost = new Counter({
    name: 'gen_ai_client_cost_usd_total',
    help: 'Cost of model calls in USD at the prices in force, as the ledger records it.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'purpose'],
    registers: [this.registry],
  });
  private readonly providerErrors = new Counter({
    name: 'gen_ai_client_errors_total',
    help: 'Failed model calls (each try, retries included), by provider, model and error kind.',
    labelNames: ['gen_ai_provider_name', 'gen_ai_request_model', 'error_type'],
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'chat_model_retries_total',
    help: 'Model calls repeated on the same model after a failure.',
    labelNames: ['gen_ai_request_model'],
    registers: [this.registry],
  });
  private readonly fallbacks = new Counter({
    name: 'chat_model_fallbacks_total',
    help: 'Answers handed from a model to its next fallback.',
    labelNames: ['from_model', 'to_model'],
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: 'chat_streams_in_flight',
    help: 'Answers being produced right now (streamed or not).',
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: 'chat_limit_refusals_total',
    help: 'Requests refused by a rate limit or budget, by limit name.',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  private readonly extractions = new Histogram({
    name: 'chat_file_extraction_duration_seconds',
    help: 'PDF text extractions, by outcome (ok, encrypted, corrupt, too_many_pages, killed_time, killed_memory, failed).',
    labelNames: ['outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly streamObserversByLabels = new Map<string, StreamObservers>();

  /**
   * Whether anything is recorded: only when metrics are served (`METRICS_TOKEN` or `METRICS_PORT`). Otherwise every
   * recording method returns at once and Node's process metrics (event-loop delay, GC) are not collected.
   */
  readonly enabled: boolean;

  constructor(@InjectDataSource() db: DataSource, config: MetricsConfig) {
    this.enabled = Boolean(config.token || config.port);
    if (!this.enabled) return;
    collectDefaultMetrics({ register: this.registry });
    // TypeORM's postgres driver keeps its pg.Pool as `master`; read at scrape time, never on the request path.
    const pool = () => (db.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
    new Gauge({
      name: 'db_client_connection_count',
      help: 'Connections of the PostgreSQL pool, by state (used, idle).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const p = pool();
        this.set({ state: 'used' }, p ? p.totalCount - p.idleCount : 0);
        this.set({ state: 'idle' }, p?.idleCount ?? 0);
      },
    });
    new Gauge({
      name: 'db_client_connection_pending_requests',
      help: 'Queries waiting for a free connection of the PostgreSQL pool.',
      registers: [this.registry],
      collect() {
        this.set(pool()?.waitingCount ?? 0);
      },
    });
  }

  /**
   * Whether `authorization` carries the metrics token (`Bearer <token>`), compared in constant time.
   * @param token the configured `METRICS_TOKEN`; undefined means the API port serves no metrics
   */
  authorized(authorization: string | undefined, token: string | undefined): boolean {
    if (!token || !authorization?.startsWith('Bearer ')) return false;
    const given = Buffer.from(authorization.slice(7));
    const wanted = Buffer.from(token);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** One HTTP request answered. @param route the route template (`/v1/chat/sessions/:id`), never the raw path */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    if (!this.enabled) return;
    this.httpDuration.observe({ http_route: route, http_request_method: method, http_response_status_code: status }, seconds);
  }

  /**
   * One model call ended (each try of a chain counts once).
   * @param errorKind the `ModelProviderError` kind when it failed; undefined on success
   */
  modelCall(labels: ModelCallLabels, seconds: number, errorKind?: string): void {
    if (!this.enabled) return;
    this.callDuration.observe(
      { gen_ai_provider_name: labels.provider, gen_ai_request_model: labels.model, purpose: labels.purpose, error_type: errorKind ?? '' },
      seconds,
    );
    if (errorKind) this.providerErrors.inc({ gen_ai_provider_name: labels.provider, gen_ai_request_model: labels.model, error_type: errorKind });
  }

  /**
   * The time-to-first-token, gap and per-output-token histograms of one provider, model and purpose, bound to those labels once and
   * kept (the label set is bounded: registry ids and purposes), so a streamed piece builds no labels object.
   * Take it once per call.
   */
  streamObservers(labels: ModelCallLabels): StreamObservers {
    if (!this.enabled) return NO_OBSERVERS;
    const key = `${labels.provider}\u0000${labels.model}\u0000${labels.purpose}`;
    let observers = this.streamObserversByLabels.get(key);
    if (!observers) {
      const bound = modelLabels(labels);
      const ttft = this.ttft.labels(bound);
      const gap = this.gap.labels(bound);
      const perToken = this.perToken.labels(bound);
      observers = {
        firstToken: (seconds) => ttft.observe(seconds),
        tokenGap: (seconds) => gap.observe(seconds),
        timePerOutputToken: (seconds) => perToken.observe(seconds),
      };
      this.streamObserversByLabels.set(key, observers);
    }
    return observers;
  }

  /** A call's usage and cost as recorded in the ledger (estimated or reported). */
  usage(
    labels: ModelCallLabels,
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number; reasoningTokens?: number },
    costUsd: number,
  ): void {
    if (!this.enabled) return;
    const base = modelLabels(labels);
    this.tokens.inc({ ...base, gen_ai_token_type: 'input' }, usage.inputTokens);
    this.tokens.inc({ ...base, gen_ai_token_type: 'output' }, usage.outputTokens);
    this.tokens.inc({ ...base, gen_ai_token_type: 'cached_input' }, usage.cachedInputTokens ?? 0);
    this.tokens.inc({ ...base, gen_ai_token_type: 'reasoning' }, usage.reasoningTokens ?? 0);
    this.cost.inc(base, costUsd);
  }

  /** A model is called again after a failure. */
  retry(model: string): void {
    if (!this.enabled) return;
    this.retries.inc({ gen_ai_request_model: model });
  }

  /** An answer moves on from `from` to its fallback `to`. */
  fallback(from: string, to: string): void {
    if (!this.enabled) return;
    this.fallbacks.inc({ from_model: from, to_model: to });
  }

  /** An answer started; call the returned function exactly once when it ends. */
  answerStarted(): () => void {
    if (!this.enabled) return NOTHING;
    this.inFlight.inc();
    let ended = false;
    return () => {
      if (!ended) this.inFlight.dec();
      ended = true;
    };
  }

  /** A request was refused by the limit named `limit` (e.g. `sends`, `requests`, `login`). */
  refused(limit: string): void {
    if (!this.enabled) return;
    this.refusals.inc({ limit });
  }

  /** A PDF extraction ended with `outcome` after `seconds`. */
  extraction(outcome: string, seconds: number): void {
    if (!this.enabled) return;
    this.extractions.observe({ outcome }, seconds);
  }
}

const NOTHING = () => undefined;
const NO_OBSERVERS: StreamObservers = { firstToken: NOTHING, tokenGap: NOTHING, timePerOutputToken: NOTHING };

function modelLabels(l: ModelCallLabels): Record<string, string> {
  return { gen_ai_provider_name: l.provider, gen_ai_request_model: l.model, purpose: l.purpose };
}
