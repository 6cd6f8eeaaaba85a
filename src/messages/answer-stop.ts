import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';

/**
 * Why an answer was stopped before its end, other than its client leaving: `cancelled` by
 * `POST /v1/chat/messages/{id}/cancel`, or `shutdown` when the process stops and the grace time has passed.
 * Used as the reason of the turn's abort signal, so the engine stores the right status.
 */
export class AnswerStop extends DOMException {
  constructor(readonly kind: 'cancelled' | 'shutdown') {
    super(kind === 'cancelled' ? 'The answer was cancelled.' : 'The server is shutting down.', 'AbortError');
  }
}

/** This process among the instances sharing the database: stored on the answers it generates. */
export const INSTANCE_ID = `${hostname().slice(0, 30)}:${process.pid}:${randomUUID().slice(0, 8)}`;
