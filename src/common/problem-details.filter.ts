import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { QueryFailedError } from 'typeorm';
import { ProblemDetails, ProblemException } from './problem';

const TYPE_BASE = 'https://chat-backend.dev/problems/';

/** Socket errors and PostgreSQL's connection-class SQLSTATEs (08xxx, 57P0x, 53300): the database is out of reach. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

function isDatabaseUnavailable(err: unknown): boolean {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect/i.test(e.message ?? '');
}

/**
 * The one exception filter: every error leaves as `application/problem+json` (RFC 9457). Unique violations
 * become 409, oversized bodies 413, throttling 429; anything unexpected is logged with the request id and
 * answered as a bare 500 (no stack trace, SQL or secret ever reaches the client).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = this.toProblem(exception, req);
    if (res.headersSent) {
      // A stream already started: nothing can be said in HTTP terms any more.
      if (!res.writableEnded) res.end();
      return;
    }
    if (exception instanceof ProblemException) {
      for (const [k, v] of Object.entries(exception.headers)) res.setHeader(k, v);
    }
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }

  /** Maps any thrown value to problem details; logs the unexpected ones. */
  toProblem(exception: unknown, req?: Request): ProblemDetails {
    const requestId = (req as { id?: string } | undefined)?.id;
    const instance = req?.originalUrl?.split('?')[0];
    if (exception instanceof ProblemException) {
      return this.problem(exception.getStatus(), exception.message, instance, exception.extensions);
    }
    if (exception instanceof ThrottlerException) {
      return this.problem(429, 'Too many requests: wait for the time in Retry-After, then try again.', instance);
    }
    if (exception instanceof HttpException) {
      return this.problem(exception.getStatus(), this.detailOf(exception), instance);
    }
    const bodyError = exception as { type?: string; status?: number; expose?: boolean; message?: string };
    if (bodyError?.type === 'entity.too.large') {
      return this.problem(413, 'The request body is larger than this server accepts.', instance);
    }
    // The body parser's other refusals (an unsupported charset or content encoding, a body cut short): client
    // errors whose message is meant for the client (http-errors' `expose`).
    if (bodyError?.expose === true && typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      return this.problem(bodyError.status, `The request body cannot be read: ${bodyError.message}.`, instance);
    }
    const pgCode = exception instanceof QueryFailedError ? (exception.driverError as { code?: string })?.code : undefined;
    if (pgCode === '23505') return this.problem(409, 'A resource with these unique values already exists.', instance);
    // 23503: a row this request refers to was deleted meanwhile (services check existence first; this is the race).
    if (pgCode === '23503') return this.problem(409, 'Something this request refers to was deleted meanwhile.', instance);
    // 22021/22P05: text PostgreSQL cannot store (U+0000); the pipe refuses it in bodies, this catches the rest.
    if (pgCode === '22021' || pgCode === '22P05') {
      return this.problem(422, 'The request holds characters that cannot be stored (U+0000).', instance);
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.error(`Database unavailable on ${req?.method} ${instance}: ${(exception as Error).message}`);
      return this.problem(503, 'The database is not answering; try again shortly.', instance);
    }
    this.logger.error(
      `Unhandled error on ${req?.method} ${instance} (request ${requestId ?? '-'}): ${(exception as Error)?.stack ?? exception}`,
    );
    return this.problem(500, 'An unexpected error occurred. It has been logged.', instance, {
      request_id: requestId,
    });
  }

  private detailOf(exception: HttpException): string {
    const body = exception.getResponse();
    if (typeof body === 'string') return body;
    const message = (body as { message?: unknown }).message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string' && message.length) {
      // Nest's default "Cannot GET /x" is fine; its bare status names get a sentence.
      return /[.!?]$/.test(message) ? message : `${message}.`;
    }
    return `${STATUS_CODES[exception.getStatus()] ?? 'Error'}.`;
  }

  private problem(status: number, detail: string, instance?: string, ext: Partial<ProblemDetails> = {}): ProblemDetails {
    const title = STATUS_CODES[status] ?? 'Error';
    const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return {
      type: status === HttpStatus.INTERNAL_SERVER_ERROR ? 'about:blank' : `${TYPE_BASE}${slug}`,
      title,
      status,
      detail,
      ...(instance ? { instance } : {}),
      ...ext,
    };
  }
}
