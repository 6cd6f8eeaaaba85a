import { context, Context, Span, SpanKind, trace } from '@opentelemetry/api';
import { failSpan, tracer } from '../common/tracing';
import { MetricsService, StreamObservers } from '../metrics/metrics.service';
import { FinishReason, ModelProviderError, ModelRequest, ModelUsage } from './model-provider';
import { RegisteredModel } from './model-registry';

/**
 * Watches one model call (one try of a route): a CLIENT span with the OpenTelemetry GenAI attributes
 * (`gen_ai.operation.name`, `gen_ai.system`/`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
 * `gen_ai.usage.*`, `gen_ai.response.finish_reasons`, a `gen_ai.first_token` event) and the call's duration, time
 * to first token, gaps between pieces, and time per output token (OpenTelemetry's GenAI metric: one sample per
 * answer) in Prometheus. The span is the active context while the adapter works,
 * so an instrumented `fetch` carries its `traceparent` to the provider. Never records message text.
 */
export class ModelCallTelemetry {
  readonly span: Span;
  /** The active context with this call's span: run the adapter in it. */
  readonly ctx: Context;
  private readonly started = performance.now();
  /** When the first piece arrived (0: none yet). */
  private firstAt = 0;
  /** When the latest piece arrived. */
  private last = 0;
  private done = false;
  private readonly labels: { provider: string; model: string; purpose: string };
  private readonly observers: StreamObservers | undefined;

  constructor(
    private readonly metrics: MetricsService | undefined,
    model: RegisteredModel,
    request: ModelRequest,
    purpose: string,
  ) {
    this.labels = { provider: model.provider, model: model.id, purpose };
    this.observers = metrics?.streamObservers(this.labels);
    this.span = tracer.startSpan(`chat ${request.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': model.provider,
        'gen_ai.provider.name': model.provider,
        'gen_ai.request.model': request.model,
        ...(request.maxTokens !== undefined && { 'gen_ai.request.max_tokens': request.maxTokens }),
        ...(request.temperature !== undefined && { 'gen_ai.request.temperature': request.temperature }),
        'chat.purpose': purpose,
      },
    });
    this.ctx = trace.setSpan(context.active(), this.span);
  }

  /** A streamed piece arrived: the first one is the time to first token, later ones are gaps. */
  piece(): void {
    const now = performance.now();
    if (this.firstAt) {
      this.observers?.tokenGap((now - this.last) / 1000);
    } else {
      this.firstAt = now;
      const seconds = (now - this.started) / 1000;
      this.observers?.firstToken(seconds);
      this.span.addEvent('gen_ai.first_token', { 'gen_ai.server.time_to_first_token': seconds });
    }
    this.last = now;
  }

  /** The call answered. */
  succeeded(model: string, finishReason: FinishReason, usage: ModelUsage): void {
    this.span.setAttributes({
      'gen_ai.response.model': model,
      'gen_ai.response.finish_reasons': [finishReason],
      'gen_ai.usage.input_tokens': usage.inputTokens,
      'gen_ai.usage.output_tokens': usage.outputTokens,
    });
    // `gen_ai.server.time_per_output_token`: the decode time after the first token, per token after it.
    if (this.firstAt && usage.outputTokens > 1) {
      this.observers?.timePerOutputToken((performance.now() - this.firstAt) / 1000 / (usage.outputTokens - 1));
    }
    this.end();
  }

  /** The call failed (`err` a ModelProviderError, or the caller's abort). */
  failed(err: unknown): void {
    const kind = err instanceof ModelProviderError ? err.kind : 'aborted';
    failSpan(this.span, err);
    this.end(kind);
  }

  /** The consumer stopped reading after the last piece it needed (a stream left before its finish event). */
  ended(): void {
    this.end();
  }

  private end(errorKind?: string): void {
    if (this.done) return;
    this.done = true;
    this.metrics?.modelCall(this.labels, (performance.now() - this.started) / 1000, errorKind);
    this.span.end();
  }
}
