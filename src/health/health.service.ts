import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Draining } from '../common/draining';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelRegistry } from '../providers/model-registry';
import { RedisConnection } from '../rate-limit/redis.provider';
import { PublicConfigDto, ReadinessDto } from './dto/health.dto';

/** Liveness, readiness (database, and Redis when configured) and the non-sensitive settings of `/config`. */
@Injectable()
export class HealthService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisConnection,
    private readonly registry: ModelRegistry,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly draining: Draining,
  ) {}

  /** @returns each dependency's state; `status` is `ok` only when all are up */
  async readiness(): Promise<ReadinessDto> {
    const database = await this.dataSource
      .query('SELECT 1')
      .then(() => 'up' as const)
      .catch(() => 'down' as const);
    const redis = this.config.redisUrl ? ((await this.redis.isHealthy()) ? 'up' : 'down') : 'not_configured';
    // A process shutting down is not ready from the first moment, whatever its dependencies say.
    const ok = database === 'up' && redis !== 'down' && !this.draining.active;
    return { status: ok ? 'ok' : 'unavailable', checks: { database, redis } };
  }

  publicConfig(): PublicConfigDto {
    const cm = this.config.contextManagement;
    return {
      default_model: this.registry.defaultModel().id,
      offline_mode: this.registry.offlineMode,
      max_input_length: this.config.limits.max_input_length,
      max_upload_bytes: this.config.limits.max_upload_bytes,
      rate_limits: {
        window_seconds: this.config.rateLimits.window_seconds,
        tiers: Object.fromEntries(
          Object.entries(this.config.rateLimits.tiers).map(([name, t]) => [name, { requests: t.requests ?? null, sends: t.sends ?? null }]),
        ),
      },
      context_management: {
        mode: cm.mode,
        window_size: cm.window_size,
        summarize_after_messages: cm.summarize_after_messages,
        summary_update_interval: cm.summary_update_interval,
      },
    };
  }
}
