import type { Redis, RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/file-config';

/** First pause before dialling Redis again after a lost connection; it doubles up to `reconnect_max_delay_ms`. */
const FIRST_RECONNECT_DELAY_MS = 50;

/**
 * The reconnection schedule: 50 ms, doubling, at most `maxDelayMs`, forever (ioredis `retryStrategy`; a number means
 * "dial again after this long", so the client recovers by itself whenever Redis is back).
 * @param maxDelayMs longest pause between two attempts
 * @returns the ioredis retry strategy
 */
export function reconnectDelays(maxDelayMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxDelayMs, FIRST_RECONNECT_DELAY_MS * 2 ** Math.min(attempt - 1, 20));
}

/**
 * Options of every Redis client of the app that serves requests (commands, and the pub/sub subscribers derived from
 * it with `duplicate()`), so a Redis outage costs a request milliseconds, not seconds (ioredis `RedisOptions`):
 * - `enableOfflineQueue: false`: while the connection is not ready a command is rejected at once instead of waiting
 *   in a queue for a reconnection;
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when the connection drops
 *   fails then, and is never replayed later (its request has long been answered);
 * - `commandTimeout` and `socketTimeout` (both `command_timeout_ms`): a Redis that accepts connections but does not
 *   answer fails the command, and the silent connection is destroyed and dialled again, so the next commands fail at
 *   once instead of each waiting out the timeout;
 * - `connectTimeout`: a dial that gets no answer is given up and retried;
 * - `retryStrategy`: {@link reconnectDelays}, which never gives up.
 * Subscribers only issue SUBSCRIBE once their connection is ready (see `keepSubscribed`), so no queue is needed there.
 * @param config the `redis` section of the configuration
 */
export function redisClientOptions(config: RedisConfig): RedisOptions {
  return {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.command_timeout_ms,
    socketTimeout: config.command_timeout_ms,
    connectTimeout: config.connect_timeout_ms,
    retryStrategy: reconnectDelays(config.reconnect_max_delay_ms),
  };
}

/**
 * Overrides for a connection that waits in blocking reads (`XREAD BLOCK`), derived with `duplicate()`: no command or
 * socket timeout (a blocking read is silent on purpose), but a client-side deadline of the read's own block time plus
 * `graceMs` (ioredis `blockingTimeout`: the read then resolves empty, as a timed-out XREAD does). It is opened
 * explicitly (`connect()`, which fails if Redis is out of reach) and not re-dialled: a reader whose connection dropped
 * stops with an error.
 * @param graceMs time beyond the block time after which a read with no answer counts as timed out
 */
export function blockingReaderOptions(graceMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: undefined,
    socketTimeout: undefined,
    blockingTimeout: graceMs,
    blockingTimeoutGrace: graceMs,
    retryStrategy: () => null,
  };
}

/**
 * Keeps a subscriber connection (made with `duplicate({ autoResubscribe: false })`) subscribed to `channels`: it
 * sends SUBSCRIBE each time the connection becomes ready — at start, and after every reconnection — rather than
 * relying on ioredis's re-subscription, which only repeats subscriptions that once succeeded and reports nothing.
 * @param handlers `subscribed` runs once SUBSCRIBE is acknowledged; `failed` when it is refused or times out (it is
 *        sent again on the next reconnection)
 */
export function keepSubscribed(
  subscriber: Redis,
  channels: string[],
  handlers: { subscribed?: () => void; failed?: (err: Error) => void },
): void {
  subscriber.on('ready', () => {
    subscriber.subscribe(...channels).then(
      () => handlers.subscribed?.(),
      (err: Error) => handlers.failed?.(err),
    );
  });
}
