import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/bootstrap';
import { prepareWorkerDatabase } from './database';

/** A running app on a loopback port, as a client sees it. */
export interface TestApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** supertest bound to the listening server */
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** Variables every test app starts from; a test overrides them through `startApp(env)`. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'error',
  JWT_SECRET: 'test-secret-that-is-at-least-32-characters-long',
  CONFIG_FILE: join(__dirname, 'config.test.yaml'),
};

const PROVIDER_VARS = /^(OPENAI|ANTHROPIC|GOOGLE|GEMINI|GROQ|MISTRAL|DEEPSEEK|OPENROUTER|OLLAMA|S3)_|^(DATABASE_URL|REDIS_URL|DEFAULT_MODEL|ADMIN_EMAIL|ADMIN_PASSWORD|ALLOW_DB_RESET|MAX_INPUT_LENGTH|MAX_UPLOAD_BYTES)$/;

/**
 * Boots the real AppModule (global pipe, filter, guards included) against this worker's freshly emptied
 * database, listening on a random loopback port.
 * @param env extra environment variables (a value of `undefined` removes a variable); `EMBEDDED: '1'` uses the
 *            embedded PostgreSQL under a temporary DATA_DIR instead of the worker database
 * @param configure changes to the application's module before it is compiled (e.g. a provider registered at one of
 *        the app's extension points, such as the turn engine's hooks)
 */
export async function startApp(
  env: Record<string, string | undefined> = {},
  configure: (builder: TestingModuleBuilder) => TestingModuleBuilder = (builder) => builder,
): Promise<TestApp> {
  for (const key of Object.keys(process.env)) if (PROVIDER_VARS.test(key)) delete process.env[key];
  const embedded = env.EMBEDDED === '1';
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-backend-test-'));
  const base: Record<string, string> = { ...TEST_ENV, DATA_DIR: dataDir };
  // An explicit DATABASE_URL (a second instance on the same database) is used as it is, not emptied.
  if (!embedded && !env.DATABASE_URL) base.DATABASE_URL = await prepareWorkerDatabase();
  const merged = { ...base, ...env };
  delete merged.EMBEDDED;
  for (const [k, v] of Object.entries(merged)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const moduleRef = await configure(Test.createTestingModule({ imports: [AppModule] })).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bufferLogs: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { app, url, http: () => request(url), close };
}
