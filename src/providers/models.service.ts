import { AuthenticatedUser } from '../common/authenticated-user';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { allowsModel } from '../config/allowed-models';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelDto, ModelListDto } from './dto/model.dto';
import { ModelRegistry, RegisteredModel } from './model-registry';
import { ModelRouter } from './model-router';

/** What `GET /v1/models` shows: the registry's models and which model really answers for each. */
/** What the listing needs of the caller. */
type ModelCaller = Pick<AuthenticatedUser, 'tier' | 'applicationId' | 'limits'>;

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
   * @param caller the caller's tier and budget overrides: `allowed` says whether every `allowed_models` list that
   *        applies (tier, user, application) lets the caller send to each model
   * @returns every registered model, the offline one last, each with the model the router would answer with
   */
  list(caller: ModelCaller): ModelListDto {
    return { object: 'list', data: this.registry.list().map((m) => this.toDto(m, caller)) };
  }

  /**
   * @param nameOrAlias a registry id (`openai/gpt-4o-mini`) or alias (`gpt-4`), case-insensitive
   * @param caller the caller (see `list`)
   * @returns that model
   * @throws ProblemException 404 (`code: model_not_found`, OpenAI's code) when the registry has no such model
   */
  get(nameOrAlias: string, caller: ModelCaller): ModelDto {
    const model = this.registry.find(nameOrAlias);
    if (!model) {
      throw new ProblemException(HttpStatus.NOT_FOUND, `The model "${nameOrAlias}" does not exist.`, {
        code: 'model_not_found',
        param: 'model',
      });
    }
    return this.toDto(model, caller);
  }

  private toDto(model: RegisteredModel, caller: ModelCaller): ModelDto {
    const tier = this.config.rateLimits.tiers[caller.tier] ?? this.config.rateLimits.tiers.free;
    const lists = [tier, caller.limits?.user, caller.applicationId !== null ? caller.limits?.application : null];
    const allowed = lists.every((limits) => !limits || allowsModel(limits, model));
    return { ...ModelDto.from(model, this.router.answeringModel(model)?.id ?? null), allowed };
  }
}
