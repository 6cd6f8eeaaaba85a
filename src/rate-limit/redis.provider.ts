import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig, appConfig } from '../config/app-config';
import { redisClientOptions } from './redis-client';

/**
 * The shared Redis connection, present only when `REDIS_URL` is set. Rate-limit counters, login backoff, budgets and
 * answers' event logs live there so every instance shares them; readiness pings it. Built with
 * {@link redisClientOptions}: while Redis is out of reach its commands fail at once (the routes answer 503), and it
 * keeps reconnecting in the background. Closed on shutdown (a live client would keep the process up).
 */
@Injectable()
export class RedisConnection implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RedisConnection.name);
  readonly client: Redis | null;
  /** Whether an outage was logged and its end is still to be logged. */
  private down = false;

  constructor(@Inject(appConfig.KEY) private readonly config: AppConfig) {
    this.client = config.redisUrl ? new Redis(config.redisUrl, redisClientOptions(config.redis)) : null;
    // One line when Redis is lost and one when it is back, not one per reconnection attempt.
    this.client?.on('error', (err: Error) => {
      if (this.down) return;
      this.down = true;
      this.logger.warn(`Redis is out of reach (${err.message}); Redis-backed routes answer 503 until it is back.`);
    });
    this.client?.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.logger.log('Redis answers again.');
    });
  }

  /**
   * Before the app listens, waits for the connection to be ready, at most `redis.connect_timeout_ms`: with no
   * offline queue, a request arriving while the first connection is still being opened would otherwise get a 503.
   * A Redis still out of reach then does not stop start-up; the routes answer 503 until it is back.
   */
  async onApplicationBootstrap(): Promise<void> {
    const client = this.client;
    if (!client || client.status === 'ready') return;
    const ready = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), this.config.redis.connect_timeout_ms);
      client.once('ready', onReady);
    });
    if (!ready) this.logger.warn('Redis is not reachable at start-up; Redis-backed routes answer 503 until it is.');
  }

  /** @returns true when Redis is not configured or answers PING. */
  async isHealthy(): Promise<boolean> {
    if (!this.client) return true;
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client && this.client.status !== 'end') this.client.disconnect(false);
  }
}
