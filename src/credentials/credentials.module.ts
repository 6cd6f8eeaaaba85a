import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RedisModule } from '../rate-limit/redis.module';
import { AuthInvalidationBus } from './auth-invalidation.bus';
import { LoginBackoff } from './login-backoff';
import { LoginFailureEntity } from './login-failure.entity';
import { LoginFailuresRepository } from './login-failures.repository';
import { LoginSessions } from './login-sessions.service';
import { PrincipalCache } from './principal-cache';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { RevokedSessions } from './revoked-sessions';

/**
 * Authentication state shared by the modules that check or change credentials: login sessions (refresh-token
 * families, the `refresh_tokens` table), the per-account login backoff (`login_failures`), the per-instance caches of callers and of revoked sessions, and the bus
 * that invalidates them here and on the other instances (Redis pub/sub when `REDIS_URL` is set).
 */
@Module({
  imports: [RedisModule, TypeOrmModule.forFeature([RefreshTokenEntity, LoginFailureEntity])],
  providers: [
    AuthInvalidationBus,
    PrincipalCache,
    RefreshTokensRepository,
    RevokedSessions,
    LoginSessions,
    LoginFailuresRepository,
    LoginBackoff,
  ],
  exports: [AuthInvalidationBus, PrincipalCache, RefreshTokensRepository, RevokedSessions, LoginSessions, LoginBackoff],
})
export class CredentialsModule {}
