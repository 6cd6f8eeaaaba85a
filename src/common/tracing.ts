import { Attributes, context, Context, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * The service's OpenTelemetry tracer. Without a started SDK (no `OTEL_*` configuration, see `src/tracing.ts`) the
 * API hands out non-recording spans, so instrumented code costs next to nothing.
 */
export const tracer = trace.getTracer('chat-backend');

/**
 * Runs `fn` inside a span named `name` (a child of the active span), ending it when `fn` settles and recording a
 * thrown error on it. Never put message text or credentials in `attributes`.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` failed with the error's type and message (a safe-to-show message: no secrets reach errors here). */
export function failSpan(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
  span.setAttribute('error.type', (err as { kind?: string })?.kind ?? (err as Error)?.name ?? 'error');
}

/**
 * Iterates `iterable` with each step run in `ctx`, so work an async generator starts lazily (an SDK's `fetch` on
 * the first `next()`) sees that context — the generator body otherwise runs in whatever context calls `next()`.
 */
export async function* inContext<T>(ctx: Context, iterable: AsyncIterable<T>): AsyncGenerator<T> {
  const it = iterable[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const step = await context.with(ctx, () => it.next());
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!finished) await it.return?.();
  }
}
