import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsConfig } from './metrics.config';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { MetricsService } from './metrics.service';

/**
 * Prometheus metrics (README "Operating it"): the registry, `GET /metrics`, the optional private listener and the
 * HTTP timing middleware. Global, so any module records into {@link MetricsService} without importing this one;
 * it imports no feature module itself.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, MetricsConfig, MetricsListener],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
