import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp, loadOpenApiMetadata } from './bootstrap';
import { ConfigValidationError, loadAppConfig } from './config/app-config';

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function bootstrap(): Promise<void> {
  // Validate first (`.env` is already merged into process.env by ConfigModule.forRoot at import), so a bad value
  // is reported as plain lines before Nest starts and prints its own stack traces.
  const config = loadAppConfig(process.env);
  await loadOpenApiMetadata();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bufferLogs: true });
  configureApp(app);
  await app.listen(config.port, config.host);

  // Close the server, the pool and the embedded database, then exit 0 (SIGTERM from docker/k8s, Ctrl-C).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof ConfigValidationError ? err.message : err);
  process.exit(1);
});
