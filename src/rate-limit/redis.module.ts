import { Module } from '@nestjs/common';
import { RedisConnection } from './redis.provider';

/** Owns the one Redis connection (when `REDIS_URL` is set). */
@Module({ providers: [RedisConnection], exports: [RedisConnection] })
export class RedisModule {}
