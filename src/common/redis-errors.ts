import { ReplyError } from 'ioredis';

/**
 * How ioredis rejects a command it could not get answered (ioredis 5: `Redis#sendCommand`, `Command#setTimeout`, the
 * close handler): not connected and no offline queue, no reply within `commandTimeout`, the connection dropped with
 * the command in flight (`MaxRetriesPerRequestError`, an aborted pipeline), or the client closed.
 */
const UNANSWERED = /^(Stream isn't writeable|Command timed out|Reached the max retries per request limit|Command aborted due to connection close|Connection is closed|Socket timeout)/;

/**
 * Whether `err` means Redis could not be reached or did not answer in time (→ 503), as opposed to Redis answering
 * with an error (`ReplyError`: a bug or a misconfiguration, → 500).
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || isReplyError(err)) return false;
  return err.name === 'MaxRetriesPerRequestError' || UNANSWERED.test(err.message);
}

function isReplyError(err: Error): boolean {
  return err instanceof (ReplyError as abstract new (...args: never[]) => object);
}
