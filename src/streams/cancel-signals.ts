import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';

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
  private ready?: Promise<unknown>;

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
    this.subscriber = this.client.duplicate({ lazyConnect: false });
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      for (const h of this.handlers) h(Number(message));
    });
    // Redis out of reach at start: ioredis subscribes again once it reconnects (autoResubscribe).
    this.ready = this.subscriber.subscribe(this.channel).catch((err: Error) => this.onError(err));
  }

  /** Resolves once the subscription is active (a publish before that is not seen here). */
  async subscribed(): Promise<void> {
    await this.ready;
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect(false);
    this.subscriber = undefined;
  }
}
