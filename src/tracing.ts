/**
 * OpenTelemetry tracing, configured only by the standard `OTEL_*` environment variables (OpenTelemetry
 * specification, "Environment Variable Specification"): with `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER` set (and `OTEL_SDK_DISABLED` not `true`), the Node
 * SDK starts with its OTLP exporter and instruments http (W3C `traceparent` in and out), Express, pg, ioredis and
 * undici (the `fetch` the provider SDKs use, so provider requests carry the trace). Unset: nothing starts, nothing is
 * exported, and the SDK is not even loaded. `main.ts` starts it before the modules it patches are loaded.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { redactedPath } from './common/secret-paths';

/** Whether the environment asks for traces. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);
}

/**
 * Loads and starts the Node SDK with the service's instrumentations (the SDK reads the exporter and its endpoint
 * from `OTEL_*` itself).
 * @returns the started SDK; shut it down on exit to flush the last spans
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<NodeSDK> {
  const [{ NodeSDK }, { ExpressInstrumentation, ExpressLayerType }, { HttpInstrumentation }, { IORedisInstrumentation }, { PgInstrumentation }, { UndiciInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/instrumentation-express'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-undici'),
    ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'chat-backend',
    instrumentations: [
      // A share link's token in the path is a secret: the span's `url.path` gets it redacted (the hook's
      // attributes override the instrumentation's own).
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => req.url === '/health' || req.url === '/metrics',
        startIncomingSpanHook: (req) => {
          const path = (req.url ?? '').split('?')[0];
          const redacted = redactedPath(path);
          return redacted === path ? {} : { 'url.path': redacted };
        },
      }),
      // Route handlers only: a span for each of the dozen middleware layers every request passes (body parsers,
      // CORS, security headers, request logging) and an empty one per router would cost more than they tell; the
      // route still names the server span.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
      // Statement text is kept (parameters are not): it names tables, never message text. Queries outside a traced
      // operation, and the pool's connection checkouts, make no span.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation(),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
