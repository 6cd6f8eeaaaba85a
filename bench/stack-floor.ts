/**
 * The stack floor: the least a send costs on this project's stack before any of the product's own work.
 *
 * A NestJS application on the Express adapter with one route, `POST /chat`, behind a guard that verifies an HS256
 * bearer token (`@nestjs/jwt`), whose body `{ messages: [{ role, content }] }` goes through the global
 * `ValidationPipe` (class-validator and class-transformer), and which streams the answer of the upstream mock through
 * the official OpenAI SDK (`stream: true`, usage included) as `data: <piece>` events and `data: [DONE]`. No database,
 * no logging, no rate limit, no metrics. bench/run.ts starts it with ts-node next to the floor relay, so the table can
 * show how much of the app's cost the framework and the SDK alone already take.
 *
 * With `OTEL_*` set it first starts the app's own tracing setup (src/tracing.ts: the OpenTelemetry Node SDK with the
 * http, Express, pg, ioredis and undici instrumentations), as the app's `main.ts` does, before Nest is loaded; the
 * observability section measures what that alone adds.
 *
 * Env: PORT (0 = ephemeral), UP (the mock's base URL), JWT_SECRET, OTEL_*. Prints `{"port":N}` on stdout once it
 * listens.
 */
import { startTracing, tracingRequested } from '../src/tracing';

async function main(): Promise<void> {
  if (tracingRequested(process.env)) await startTracing();
  // Loaded after tracing so the instrumentations patch http, Express and undici before Nest requires them.
  const { serveStackFloor } = await import('./stack-floor-app');
  await serveStackFloor();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
