import { Controller, Get, Header, Headers, NotFoundException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../common/public.decorator';
import { MetricsService } from './metrics.service';
import { MetricsConfig } from './metrics.config';

/**
 * `GET /metrics` on the API port: Prometheus text, only with `Authorization: Bearer <METRICS_TOKEN>`. Without a
 * configured token the route answers 404, as if it did not exist. Not part of the API document: it is for
 * Prometheus, not for SDKs.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly config: MetricsConfig,
  ) {}

  @Public()
  @SkipThrottle()
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  scrape(@Headers('authorization') authorization?: string): Promise<string> {
    if (!this.metrics.authorized(authorization, this.config.token)) throw new NotFoundException();
    return this.metrics.scrape();
  }
}
