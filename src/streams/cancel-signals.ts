import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { keepSubscribed } from '../rate-limit/redis-client';

/**
 * Requests to stop an answer, delivered to every instance (the one generating it acts on it): Redis pub/sub
 * when Redis is configured, an in-process emitter otherwise.
 */
export interface CancelSignals {
  /** Asks every instance to stop the answer. */
  publish(answerId: number): Promise<void>;
  /** Calls `handler` with each answer id whose stop was asked for. */
  subscribe(handler: (answerId: number) => void): void;
  close(): Promise<void>;
}

/** Within one process. */
export class LocalCancelSignals implements CancelSignals {
  private readonly emitter = new EventEmitter();

  async publish(answerId: number): Promise<void> {
    this.emitter.emit('cancel', answerId);
  }

  subscribe(handler: (answerId: number) => void): void {
    this.emitter.on('cancel', handler);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Across instances: one channel, `<prefix>cancel`, carrying answer ids; a subscriber connection of its own. */
export class RedisCancelSignals implements CancelSignals {
  private readonly channel: string;
  private subscriber?: Redis;
  private readonly handlers: ((answerId: number) => void)[] = [];
  private ready?: Promise<void>;

  /** @param onError told when the subscription fails (Redis out of reach); it is retried on reconnection */
  constructor(
    private readonly client: Redis,
    prefix: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.channel = `${prefix}cancel`;
  }

  async publish(answerId: number): Promise<void> {
    await this.client.publish(this.channel, String(answerId));
  }

  subscribe(handler: (answerId: number) => void): void {
    this.handlers.push(handler);
    if (this.subscriber) return;
    const subscriber = this.client.duplicate({ autoResubscribe: false, lazyConnect: false });
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      for (const h of this.handlers) h(Number(message));
    });
    // Out of reach: reconnection is the client's; each 'ready' subscribes again (stop requests sent meanwhile are lost).
    subscriber.on('error', () => undefined);
    let acknowledged!: () => void;
    this.ready = new Promise<void>((resolve) => (acknowledged = resolve));
    keepSubscribed(subscriber, [this.channel], { subscribed: () => acknowledged(), failed: (err) => this.onError(err) });
  }

  /** Resolves once the subscription is first active (a publish before that is not seen here). */
  async subscribed(): Promise<void> {
    await this.ready;
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect(false);
    this.subscriber = undefined;
  }
}
