/**
 * OpenTelemetry tracing, configured only by the standard `OTEL_*` environment variables (OpenTelemetry
 * specification, "Environment Variable Specification"): with `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER` set (and `OTEL_SDK_DISABLED` not `true`), the Node
 * SDK starts with its OTLP exporter and instruments http (W3C `traceparent` in and out), Express, pg, ioredis and
 * undici (the `fetch` the provider SDKs use, so provider requests carry the trace). Unset: nothing starts and
 * nothing is exported. Imported first by `main.ts`, before the modules it patches are loaded.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/** Whether the environment asks for traces. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);
}

/** The started SDK, or undefined when tracing is off; shut it down on exit to flush the last spans. */
export const tracingSdk: NodeSDK | undefined = tracingRequested(process.env) ? startTracing() : undefined;

function startTracing(): NodeSDK {
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'chat-backend',
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/health' || req.url === '/metrics' }),
      new ExpressInstrumentation(),
      // Statement text is kept (parameters are not): it names tables, never message text.
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new IORedisInstrumentation(),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
