import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { allowsModel } from '../config/allowed-models';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelDto, ModelListDto } from './dto/model.dto';
import { ModelRegistry, RegisteredModel } from './model-registry';
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
  list(tier: string): ModelListDto {
    return { object: 'list', data: this.registry.list().map((m) => this.toDto(m, tier)) };
  }

  /**
   * @param nameOrAlias a registry id (`openai/gpt-4o-mini`) or alias (`gpt-4`), case-insensitive
   * @param tier the caller's tier (see `list`)
   * @returns that model
   * @throws ProblemException 404 (`code: model_not_found`, OpenAI's code) when the registry has no such model
   */
  get(nameOrAlias: string, tier: string): ModelDto {
    const model = this.registry.find(nameOrAlias);
    if (!model) {
      throw new ProblemException(HttpStatus.NOT_FOUND, `The model "${nameOrAlias}" does not exist.`, {
        code: 'model_not_found',
        param: 'model',
      });
    }
    return this.toDto(model, tier);
  }

  private toDto(model: RegisteredModel, tier: string): ModelDto {
    const limits = this.config.rateLimits.tiers[tier] ?? this.config.rateLimits.tiers.free;
    return { ...ModelDto.from(model, this.router.answeringModel(model)?.id ?? null), allowed: allowsModel(limits, model) };
  }
}
