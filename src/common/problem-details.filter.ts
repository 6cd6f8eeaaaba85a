import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isOpenAiPath, openAiStatus, toOpenAiError } from './openai-error';
import { ProblemDetails } from './problem';
import { problemHeaders, problemOf } from './problem-details';

/**
 * The one exception filter: every error leaves as `application/problem+json` (RFC 9457), mapped by
 * {@link problemOf} (the same mapping a stream's `error` event uses).
 * The OpenAI-compatible routes get the same error in OpenAI's body instead (see `isOpenAiPath`).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = problemOf(exception, req);
    if (res.headersSent) {
      // A stream already started: nothing can be said in HTTP terms any more.
      if (!res.writableEnded) res.end();
      return;
    }
    for (const [k, v] of Object.entries(problemHeaders(exception))) res.setHeader(k, v);
    if (isOpenAiPath(req.path)) res.status(openAiStatus(problem.status)).json(toOpenAiError(problem));
    else res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }

  /** The problem details `exception` is answered with ({@link problemOf}). */
  toProblem(exception: unknown, req?: Request): ProblemDetails {
    return problemOf(exception, req);
  }
}
