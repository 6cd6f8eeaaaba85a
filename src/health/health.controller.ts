import { Controller, Get, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { packageVersion } from '../common/package-version';
import { Public } from '../common/public.decorator';
import { LivenessDto, PublicConfigDto, ReadinessDto, ServiceInfoDto, TierLimitsDto } from './dto/health.dto';
import { HealthService } from './health.service';
import { OperationId } from '../common/operation-id.decorator';

/** The service's version: package.json's, as the OpenAPI document states it. */
const VERSION = packageVersion();

/** Public service endpoints: health, readiness, configuration, and the index. */
@ApiTags('service')
@ApiExtraModels(TierLimitsDto)
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Service index: name, version and where the docs are. */
  @Public()
  @Get()
  @ApiOkResponse({ type: ServiceInfoDto })
  @OperationId('getServiceIndex')
  index(): ServiceInfoDto {
    return { name: 'chat-backend', version: VERSION, docs: '/docs', openapi: '/docs-json', health: '/health' };
  }

  /** Liveness: the process answers. */
  @Public()
  @SkipThrottle()
  @Get('health')
  @ApiOkResponse({ type: LivenessDto })
  @OperationId('getLiveness')
  live(): LivenessDto {
    return { status: 'ok' };
  }

  /** Readiness: the database (and Redis, when configured) answer. */
  @Public()
  @SkipThrottle()
  @Get('health/ready')
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto })
  @OperationId('getReadiness')
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessDto> {
    const result = await this.health.readiness();
    res.status(result.status === 'ok' ? 200 : 503);
    return result;
  }

  /** Non-sensitive settings of the service: default model, limits, context management. */
  @Public()
  @Get('config')
  @ApiOkResponse({ type: PublicConfigDto })
  @OperationId('getPublicConfig')
  config(): PublicConfigDto {
    return this.health.publicConfig();
  }
}
