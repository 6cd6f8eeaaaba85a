import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './bootstrap';
import { AppConfig, appConfig, ConfigValidationError } from './config/app-config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bufferLogs: true });
  configureApp(app);
  const config = app.get<AppConfig>(appConfig.KEY);
  await app.listen(config.port, config.host);
}

bootstrap().catch((err: unknown) => {
  // A bad configuration is the common case: print its lines alone, without a stack trace.
  const cause = findConfigError(err);
  console.error(cause ? cause.message : err);
  process.exit(1);
});

function findConfigError(err: unknown): ConfigValidationError | undefined {
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof ConfigValidationError) return e;
  }
  return undefined;
}
