import { Inject, Injectable } from '@nestjs/common';
import { allowsModel } from '../config/allowed-models';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelDto } from './dto/model.dto';
import { ModelRegistry } from './model-registry';
import { ModelRouter } from './model-router';

/** What `GET /v1/models` shows: the registry's models and which model really answers for each. */
@Injectable()
export class ModelsService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** True when no provider is configured and the offline model answers everything. */
  get offlineMode(): boolean {
    return this.registry.offlineMode;
  }

  /**
   * @param tier the caller's tier: `allowed` says whether its `allowed_models` lets the caller send to each model
   * @returns every registered model, the offline one last, each with the model the router would answer with
   */
  list(tier: string): ModelDto[] {
    const limits = this.config.rateLimits.tiers[tier] ?? this.config.rateLimits.tiers.free;
    return this.registry.list().map((m) => ({ ...ModelDto.from(m, this.router.answeringModel(m)?.id ?? null), allowed: allowsModel(limits, m) }));
  }
}
