import { ExecutionContext, Global, Module } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { AppConfig, appConfig } from '../config/app-config';
import { RATE_LIMIT_CLASS_KEY, RateLimitClass } from './rate-limit.decorators';
import { RedisModule } from './redis.module';
import { RedisConnection } from './redis.provider';

const reflector = new Reflector();
const classOf = (ctx: ExecutionContext) =>
  reflector.getAllAndOverride<RateLimitClass | undefined>(RATE_LIMIT_CLASS_KEY, [ctx.getHandler(), ctx.getClass()]);
/** A tier's `requests` or `sends` of null (unlimited) as the throttler's number. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
const tierOf = (ctx: ExecutionContext, config: AppConfig) => {
  const user = ctx.switchToHttp().getRequest<{ user?: { tier?: string } }>().user;
  if (!user) return undefined;
  return config.rateLimits.tiers[user.tier ?? 'free'] ?? config.rateLimits.tiers.free;
};

/**
 * Rate limits from the YAML file's `rate_limits` (API.md "Behaviour"): every request counts against the
 * caller's tier (`requests` per window; `unauthenticated_per_ip` before auth), model sends also against the
 * tier's `sends`, and auth routes against `auth_per_ip`. Counters live in Redis when `REDIS_URL` is set.
 */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [RedisModule],
      inject: [appConfig.KEY, RedisConnection],
      useFactory: (config: AppConfig, redis: RedisConnection) => {
        const ttl = config.rateLimits.window_seconds * 1000;
        return {
          storage: redis.client ? new ThrottlerStorageRedisService(redis.client) : undefined,
          throttlers: [
            {
              name: 'default',
              ttl,
              limit: (ctx) => {
                const tier = tierOf(ctx, config);
                return tier ? (tier.requests ?? UNLIMITED) : config.rateLimits.unauthenticated_per_ip;
              },
            },
            {
              name: 'send',
              ttl,
              limit: (ctx) => (tierOf(ctx, config) ?? config.rateLimits.tiers.free).sends ?? UNLIMITED,
              skipIf: (ctx) => classOf(ctx) !== 'send',
            },
            {
              name: 'auth',
              ttl,
              limit: config.rateLimits.auth_per_ip,
              skipIf: (ctx) => classOf(ctx) !== 'auth',
            },
          ],
        };
      },
    }),
    RedisModule,
  ],
  exports: [RedisModule],
})
export class RateLimitModule {}
