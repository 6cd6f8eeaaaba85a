import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyKeyEntity } from './idempotency-key.entity';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { IdempotencyInterceptor } from './idempotency.http';
import { IdempotencyService } from './idempotency.service';

/**
 * `Idempotency-Key` on sends and creations: the keys (`IdempotencyKeysRepository` is the only writer of
 * `idempotency_keys`), the service that claims them, and the interceptor that makes a JSON route idempotent.
 */
@Module({
  imports: [TypeOrmModule.forFeature([IdempotencyKeyEntity])],
  providers: [IdempotencyKeysRepository, IdempotencyService, IdempotencyInterceptor],
  exports: [IdempotencyService, IdempotencyInterceptor],
})
export class IdempotencyModule {}
