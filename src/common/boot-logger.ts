import { LoggerService } from '@nestjs/common';
import pino, { Logger as Pino } from 'pino';

/** Nest contexts whose `log` lines are start-up noise (one per module and route): logged at debug instead. */
const NOISY_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/**
 * The process's logger from its first line, before the configuration is read: JSON lines on stdout (pino-pretty on
 * a terminal outside production, or as `LOG_FORMAT` says), written synchronously so a crash or a kill still leaves
 * the reason. Level from `LOG_LEVEL` (default info; warn under `NODE_ENV=test`; info while it names no level).
 */
export function createBootLogger(env: NodeJS.ProcessEnv = process.env): Pino {
  const wanted = env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'warn' : 'info');
  // An unknown level logs at info until the configuration check reports it (pino would throw before any line).
  const level = wanted === 'silent' || wanted in pino.levels.values ? wanted : 'info';
  const pretty = (env.LOG_FORMAT ?? (process.stdout.isTTY && env.NODE_ENV !== 'production' ? 'pretty' : 'json')) === 'pretty';
  return pretty
    ? pino({ level, transport: { target: 'pino-pretty', options: { singleLine: true, sync: true } } })
    : pino({ level }, pino.destination({ fd: 1, sync: true }));
}

/**
 * Adapts a Nest {@link LoggerService} so start-up noise (module and route mapping lines) is logged at debug. Wraps
 * the boot logger until the app's own logger takes over, and that one afterwards.
 */
export class QuietStartupLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...params: unknown[]): void {
    if (NOISY_CONTEXTS.has(params[params.length - 1] as string)) this.inner.debug?.(message, ...params);
    else this.inner.log(message, ...params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.inner.error(message, ...params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.inner.warn(message, ...params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.inner.debug?.(message, ...params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.inner.verbose?.(message, ...params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...params);
  }
}

/**
 * A Nest {@link LoggerService} over a pino logger, for the time before the app's own (request-aware) logger exists.
 * The last string parameter is Nest's context; an error's stack, when given, goes in `stack`.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: pino.Level, message: unknown, params: unknown[]): void {
    const context = typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const stack = level === 'error' && typeof params[0] === 'string' ? params[0] : undefined;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.pino[level]({ context, ...(stack && { stack }) }, text);
  }
}
