import type { Logger as Pino } from 'pino';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp, loadOpenApiMetadata } from './bootstrap';
import { PinoNestLogger, QuietStartupLogger } from './common/boot-logger';
import type { AppConfig } from './config/app-config';

/**
 * Builds the Nest app on a validated configuration, listens, logs where (the URL, the database's kind and host, the
 * default model, whether Redis is used; never credentials), and wires SIGTERM/SIGINT to a clean shutdown: Nest's
 * shutdown hooks in order (running answers get `shutdown.grace_ms`, then the listener, the pool and the embedded
 * database close), then tracing flushes and the process exits 0. Loaded by `main.ts` after its first log line.
 * @param log the process's boot logger (Nest logs through it until the app's own logger takes over)
 * @param tracingSdk the started OpenTelemetry SDK, if tracing is on
 * @throws whatever stops start-up (the caller logs it as one line and exits 1)
 */
export async function serve(config: AppConfig, log: Pino, tracingSdk: NodeSDK | undefined): Promise<void> {
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
