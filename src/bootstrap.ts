import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { QuietStartupLogger } from './common/boot-logger';
import { rejectDeepJson } from './common/json-depth';
import { AppConfig, appConfig } from './config/app-config';
import openApiMetadata from './metadata';
import { serveApiDocs } from './openapi-document';

/**
 * Applies what must be set on the HTTP adapter itself (body limits, proxy trust, logger, CORS, the API docs).
 * Shared by `main.ts` and the e2e tests so both run the same app.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(new QuietStartupLogger(app.get(Logger)));
  app.useBodyParser('json', { limit: config.limits.json_body_bytes, verify: rejectDeepJson(config.limits.json_max_depth) });
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.enableCors({ exposedHeaders: ['X-Session-Id', 'X-Request-Id', 'X-Offline-Mode', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] });
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
