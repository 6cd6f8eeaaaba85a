import { Module } from '@nestjs/common';
import { RedisModule } from '../rate-limit/redis.module';
import { AuthInvalidationBus } from './auth-invalidation.bus';
import { PrincipalCache } from './principal-cache';

/**
 * Authentication state shared by the modules that check or change credentials: the per-instance principal cache
 * and the bus that invalidates it here and on the other instances (Redis pub/sub when `REDIS_URL` is set).
 */
@Module({
  imports: [RedisModule],
  providers: [AuthInvalidationBus, PrincipalCache],
  exports: [AuthInvalidationBus, PrincipalCache],
})
export class CredentialsModule {}
