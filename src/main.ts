/**
 * The process entry point (`node dist/src/main.js`). Its first act is one JSON line saying it is starting, written
 * before anything heavy loads: the framework, the instrumentation and the app's modules take most of start-up, and
 * an operator (or an orchestrator's log) must see from the first second that the process runs and, should it stop,
 * why. Only the logger is imported statically; the rest is loaded after that line, in the order tracing needs
 * (the SDK before the http, Express, pg and ioredis modules it patches).
 *
 * Failures end the process with exit code 1 after one fatal JSON line naming the cause: every configuration problem
 * on that one line, or the error that stopped start-up. Nest reports its own bootstrap failures (an unreachable
 * database after its retries) as one error line and exits 1 itself. A crash later still leaves a fatal line before
 * Node's own report.
 */
import { createBootLogger } from './common/boot-logger';
import { ConfigValidationError } from './config/config-validation-error';
import { startTracing, tracingRequested } from './tracing';

// `.env` first, so LOG_LEVEL and LOG_FORMAT there apply from the first line (variables already set win, as with
// the ConfigModule that reads the same file later).
let envFileError: unknown;
try {
  process.loadEnvFile('.env');
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') envFileError = err;
}
const log = createBootLogger();
const tracing = tracingRequested(process.env);
log.info({ node: process.version, tracing }, 'starting chat-backend');

// Written synchronously before Node prints the stack and exits, so the reason is in the JSON log too.
process.on('uncaughtExceptionMonitor', (err, origin) => log.fatal({ err, origin }, `crashed: ${err?.message ?? String(err)}`));

async function main(): Promise<void> {
  if (envFileError) throw new Error(`could not read .env: ${(envFileError as Error).message}`, { cause: envFileError });
  const tracingSdk = tracing ? await startTracing() : undefined;
  // Validated before the app's modules load, so a bad value is reported within a second of start.
  const { loadAppConfig } = await import('./config/app-config');
  const config = loadAppConfig(process.env);
  const { serve } = await import('./serve');
  await serve(config, log, tracingSdk);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) {
    log.fatal(
      { problems: err.problems },
      `start-up failed: the configuration has ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}: ${err.problems.join('; ')}`,
    );
  } else {
    log.fatal({ err }, `start-up failed: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exit(1);
});
