import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import { QuietStartupLogger } from './common/boot-logger';
import { rejectDeepJson } from './common/json-depth';
import { securityHeaders } from './common/security-headers';
import { AppConfig, appConfig } from './config/app-config';
import openApiMetadata from './metadata';

/**
 * Applies what must be set on the HTTP adapter itself (security headers, body limits, proxy trust, logger, CORS,
 * the HTTP server's timeouts, Swagger).
 * Shared by `main.ts` and the e2e tests so both run the same app.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(new QuietStartupLogger(app.get(Logger)));
  app.disable('x-powered-by');
  app.use(securityHeaders('/docs'));
  app.useBodyParser('json', { limit: config.limits.json_body_bytes, verify: rejectDeepJson(config.limits.json_max_depth) });
  app.set('trust proxy', config.trustProxy);
  // Bearer tokens only: browsers never send credentials (cookies, HTTP auth) cross-origin to this API.
  app.enableCors({
    origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins.length ? config.corsOrigins : false,
    credentials: false,
    exposedHeaders: ['X-Session-Id', 'X-Request-Id', 'X-Offline-Mode', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
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
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
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

/** The OpenAPI 3 document the SDKs are generated from; operation ids are stable (`Controller_method`). */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const options = new DocumentBuilder()
    .setTitle('Chat backend API')
    .setDescription(
      'Authenticated chat sessions that stream model replies (SSE) and keep them in PostgreSQL. ' +
        'Errors are application/problem+json (RFC 9457). Authenticate with `Authorization: Bearer <access JWT or API key>`. ' +
        '`null` on an optional body field means the field is absent; fields marked `nullable` take `null` to clear a stored value.',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An access JWT from /v1/auth/*, or an application API key.' })
    .addSecurityRequirements('bearer')
    .build();
  const document = SwaggerModule.createDocument(app, options, {
    operationIdFactory: (controllerKey, methodKey) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  return withProblemResponses(document);
}

/** RFC 9457 problem details, the body of every error answer. */
const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', description: 'A URI naming the kind of problem.' },
    title: { type: 'string', description: 'The HTTP status text.' },
    status: { type: 'integer', description: 'The HTTP status code.' },
    detail: { type: 'string', description: 'A human sentence saying what went wrong.' },
    instance: { type: 'string', description: 'The request path.' },
    errors: {
      type: 'array',
      description: 'Validation failures (422).',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

/** Adds the problem-details schema and `4XX`/`5XX` answers to every operation, so SDKs type error bodies too. */
function withProblemResponses(document: OpenAPIObject): OpenAPIObject {
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ProblemDetails: PROBLEM_SCHEMA } };
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } },
  };
  for (const item of Object.values(document.paths)) {
    for (const op of Object.values(item) as { responses?: Record<string, unknown> }[]) {
      if (!op || typeof op !== 'object' || !op.responses) continue;
      op.responses['4XX'] ??= { description: 'Client error (problem details).', ...problem };
      op.responses['5XX'] ??= { description: 'Server or provider error (problem details).', ...problem };
    }
  }
  return document;
}
