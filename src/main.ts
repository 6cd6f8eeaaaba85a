// Tracing first: it patches http, express, pg and ioredis as they load (a no-op without OTEL_* configuration).
import { tracingSdk } from './tracing';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp, loadOpenApiMetadata } from './bootstrap';
import { createBootLogger, PinoNestLogger, QuietStartupLogger } from './common/boot-logger';
import { ConfigValidationError, loadAppConfig } from './config/app-config';

const log = createBootLogger();

async function bootstrap(): Promise<void> {
  log.info({ node: process.version, tracing: Boolean(tracingSdk) }, 'starting chat-backend');
  // Validate first (`.env` is already merged into process.env by ConfigModule.forRoot at import), so a bad value
  // is reported as plain lines before Nest starts.
  const config = loadAppConfig(process.env);
  await loadOpenApiMetadata();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: new QuietStartupLogger(new PinoNestLogger(log)),
  });
  configureApp(app);
  await app.listen(config.port, config.host);

  const url = await app.getUrl();
  const database = config.databaseUrl ? `PostgreSQL at ${hostOf(config.databaseUrl)}` : `embedded PostgreSQL under ${config.dataDir}`;
  log.info(
    { url, database, redis: Boolean(config.redisUrl), default_model: config.defaultModel ?? null },
    `listening on ${url} (${database}; Redis ${config.redisUrl ? `at ${hostOf(config.redisUrl)}` : 'not used'})`,
  );

  // SIGTERM (docker, k8s) or Ctrl-C: Nest's shutdown hooks run in order (running answers get `shutdown.grace_ms`,
  // then the listener, the pool and the embedded database close), then tracing flushes and the process exits 0.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      app
        .close()
        .then(() => tracingSdk?.shutdown())
        .then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
    });
  }
}

/** `host:port` of a connection URL, never its credentials. */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname}:${u.port}` : u.hostname;
  } catch {
    return '(unparsable URL)';
  }
}

bootstrap().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) {
    // One line per problem, so each can be read (and grepped) on its own.
    for (const problem of err.problems) log.error({ context: 'Config' }, problem);
    log.fatal(`start-up failed: the configuration has ${err.problems.length} problem(s)`);
  } else {
    log.fatal({ err }, `start-up failed: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exit(1);
});
