import { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppConfig, appConfig } from './config/app-config';
import { serveApiDocs } from './openapi-document';

/**
 * Applies what must be set on the HTTP adapter itself (body limits, proxy trust, logger, CORS, the API docs).
 * Shared by `main.ts` and the e2e tests so both run the same app.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(appConfig.KEY);
  app.useLogger(app.get(Logger));
  app.useBodyParser('json', { limit: config.limits.json_body_bytes });
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.enableCors({ exposedHeaders: ['X-Session-Id', 'X-Request-Id', 'X-Offline-Mode', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] });
  serveApiDocs(app);
}
