import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Response } from 'express';
import { abortOnClientClose } from './abort-on-close';

/**
 * An `AbortSignal` that fires when the client closes the connection before the response has finished, so work
 * done on its behalf (an upstream model call) stops at once instead of running on for nobody. The edge hands it
 * to services, which never see the response itself. The abort reason is a DOMException named `AbortError`.
 */
export const ClientSignal = createParamDecorator((_: unknown, ctx: ExecutionContext): AbortSignal => {
  // The listener goes with the response: no need to remove it.
  return abortOnClientClose(ctx.switchToHttp().getResponse<Response>()).signal;
});
