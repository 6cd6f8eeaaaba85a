import { NestExpressApplication } from '@nestjs/platform-express';
import { json } from 'body-parser';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import { QuietStartupLogger } from './common/boot-logger';
import { rejectDeepJson } from './common/json-depth';
import { securityHeaders } from './common/security-headers';
import { AppConfig, appConfig } from './config/app-config';
import openApiMetadata from './metadata';
import { DOCS_PATHS, REDOC_SCRIPT, serveApiDocs } from './openapi-document';

/** The route importing a session (its body limit is `sharing.import_body_bytes`). */
const IMPORT_PATH = '/v1/chat/sessions/import';

/**
 * Applies what must be set on the HTTP adapter itself (security headers, body limits, proxy trust, logger, CORS,
 * the HTTP server's timeouts, the API docs).
 * Shared by `main.ts` and the e2e tests so both run the same app.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(new QuietStartupLogger(app.get(Logger)));
  app.disable('x-powered-by');
  app.use(securityHeaders({ swaggerUi: `/${DOCS_PATHS.ui}`, redoc: { path: DOCS_PATHS.redoc, scriptUrl: REDOC_SCRIPT } }));
  // An import carries a whole session: its own, larger limit. It parses first, so the general parser skips it.
  app.use(IMPORT_PATH, json({ limit: config.sharing.import_body_bytes, verify: rejectDeepJson(config.limits.json_max_depth) }));
  app.useBodyParser('json', { limit: config.limits.json_body_bytes, verify: rejectDeepJson(config.limits.json_max_depth) });
  app.set('trust proxy', config.trustProxy);
  // Bearer tokens only: browsers never send credentials (cookies, HTTP auth) cross-origin to this API.
  app.enableCors({
    origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins.length ? config.corsOrigins : false,
    credentials: false,
    exposedHeaders: ['X-Session-Id', 'X-Request-Id', 'X-Offline-Mode', 'Retry-After', 'RateLimit-Policy', 'RateLimit', 'Idempotent-Replayed'],
  });
  // Slow clients (slowloris) lose their socket; answers, SSE streams included, are not limited by these.
  const server = app.getHttpServer() as Server & { connectionsCheckingInterval: number };
  server.headersTimeout = config.limits.headers_timeout_ms;
  server.requestTimeout = config.limits.request_timeout_ms;
  server.keepAliveTimeout = config.limits.keep_alive_timeout_ms;
  // Node checks the two timeouts above every `connectionsCheckingInterval` (30 s by default, an option of
  // http.createServer that Node reads when the server starts listening), which would let a slow client keep its
  // socket up to 30 s longer.
  server.connectionsCheckingInterval = Math.min(5_000, Math.ceil(config.limits.headers_timeout_ms / 4));
  serveApiDocs(app);
}

/**
 * Hands Swagger what the @nestjs/swagger CLI plugin reads from the DTOs, entities and controllers (types, optional
 * fields, validation limits, doc comments), from `src/metadata.ts` (written by `npm run openapi`). The SWC build has
 * no TypeScript transformer to carry it (Nest docs, "CLI plugin", SWC builder); where the transformer ran (ts-jest)
 * this restates the same data. Call it before building the document.
 */
export async function loadOpenApiMetadata(): Promise<void> {
  await SwaggerModule.loadPluginMetadata(openApiMetadata);
}
