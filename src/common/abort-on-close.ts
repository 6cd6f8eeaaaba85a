import type { Response } from 'express';

/**
 * An abort signal that fires when the client closes the connection before the response has finished, so work done
 * on its behalf (an upstream model call) stops at once instead of running on for nobody.
 * @returns the signal, and `dispose` to stop listening once the work is done
 */
export function abortOnClientClose(res: Response): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new DOMException('The client closed the connection.', 'AbortError'));
  };
  res.on('close', onClose);
  return { signal: controller.signal, dispose: () => res.off('close', onClose) };
}
