import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig, appConfig } from '../config/app-config';

/**
 * The shared Redis connection, present only when `REDIS_URL` is set. Rate-limit counters live there so every
 * instance shares them; readiness pings it. Closed on shutdown (a live client would keep the process up).
 */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  readonly client: Redis | null;

  constructor(@Inject(appConfig.KEY) config: AppConfig) {
    this.client = config.redisUrl
      ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true })
      : null;
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
