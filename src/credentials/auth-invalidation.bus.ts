import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { keepSubscribed } from '../rate-limit/redis-client';
import { RedisConnection } from '../rate-limit/redis.provider';

/** Something that makes cached authentication state wrong, as soon as it is committed. */
export type AuthInvalidation =
  /** A user was disabled, enabled, deleted, or changed role or tier: their cached principal and API keys go. */
  | { kind: 'user'; userId: number }
  /** An API key was revoked. */
  | { kind: 'api-key'; keyId: number }
  /** An application (and with it its keys) was deleted. */
  | { kind: 'application'; applicationId: number }
  /** Login sessions (refresh-token families) were revoked: access tokens with these `sid`s must fail. */
  | { kind: 'sessions'; sids: string[] }
  /** Everything (the database was reset, or this instance may have missed messages). */
  | { kind: 'all' };

/** The Redis pub/sub channel instances tell each other about invalidations on. */
export const AUTH_INVALIDATION_CHANNEL = 'chat-backend:auth-invalidation';

type Handler = (event: AuthInvalidation) => void;

/**
 * Carries {@link AuthInvalidation}s to every cache of authentication state: at once to the handlers of this
 * instance, and, when `REDIS_URL` is set, to every other instance through Redis pub/sub (a dedicated subscriber
 * connection). While that subscription is not live (starting, Redis unreachable) {@link cacheable} is false, so
 * caches are bypassed instead of serving what another instance may already have invalidated; when the
 * subscription drops, every handler is told `all`, since messages may have been missed.
 */
@Injectable()
export class AuthInvalidationBus implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AuthInvalidationBus.name);
  private readonly instanceId = randomUUID();
  private readonly handlers: Handler[] = [];
  private readonly subscribedHandlers: (() => void)[] = [];
  private subscriber: Redis | null = null;
  private subscribed = false;
  private subscriptions = 0;

  constructor(private readonly redis: RedisConnection) {}

  /** Whether a cache may answer now: always without Redis, only while subscribed with it. */
  get cacheable(): boolean {
    return !this.redis.client || this.subscribed;
  }

  /**
   * Counts the subscriptions made so far (0 without Redis). State loaded from the database while the same
   * subscription was live stays current through the messages it brings; state loaded before it may not.
   */
  get subscription(): number {
    return this.subscriptions;
  }

  /** Registers a callback run each time a subscription begins (after SUBSCRIBE was acknowledged). */
  onSubscribed(callback: () => void): void {
    this.subscribedHandlers.push(callback);
  }

  /** Registers a handler; it runs synchronously for every invalidation, local or remote. */
  onInvalidation(handler: Handler): void {
    this.handlers.push(handler);
  }

  /**
   * Applies an invalidation here, then publishes it to the other instances. Call it after the change committed.
   * A failed publish is logged, not thrown: the change stands, and other instances catch up within their TTL.
   */
  async emit(event: AuthInvalidation): Promise<void> {
    this.dispatch(event);
    if (!this.redis.client) return;
    // Not connected: other instances catch up within their TTL.
    if (this.redis.client.status !== 'ready') {
      this.logger.warn(`Redis is not connected: an auth invalidation (${event.kind}) reaches other instances only through their TTL.`);
      return;
    }
    try {
      await this.redis.client.publish(AUTH_INVALIDATION_CHANNEL, JSON.stringify({ from: this.instanceId, event }));
    } catch (err) {
      this.logger.warn(`Could not publish an auth invalidation (${event.kind}) to other instances: ${String(err)}`);
    }
  }

  onModuleInit(): void {
    if (!this.redis.client) return;
    // `subscribed` turns true only once SUBSCRIBE was acknowledged, on every (re)connection.
    const subscriber = this.redis.client.duplicate({ autoResubscribe: false });
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, raw: string) => this.receive(raw));
    subscriber.on('error', (err: Error) => this.logger.debug(`Auth invalidation subscriber: ${err.message}`));
    subscriber.on('close', () => {
      if (!this.subscribed) return;
      this.subscribed = false;
      this.dispatch({ kind: 'all' });
    });
    keepSubscribed(subscriber, [AUTH_INVALIDATION_CHANNEL], {
      subscribed: () => {
        this.subscriptions++;
        this.subscribed = true;
        for (const callback of this.subscribedHandlers) callback();
      },
      failed: (err) => this.logger.warn(`Could not subscribe to auth invalidations: ${err.message}`),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscribed = false;
    this.subscriber?.disconnect(false);
  }

  private receive(raw: string): void {
    try {
      const { from, event } = JSON.parse(raw) as { from: string; event: AuthInvalidation };
      if (from !== this.instanceId && event && typeof event.kind === 'string') this.dispatch(event);
    } catch {
      this.logger.warn('Ignored a malformed auth invalidation message.');
    }
  }

  private dispatch(event: AuthInvalidation): void {
    for (const handler of this.handlers) handler(event);
  }
}
