import { HttpStatus, Injectable } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { ModelDto, ModelListDto } from './dto/model.dto';
import { ModelRegistry, RegisteredModel } from './model-registry';
import { ModelRouter } from './model-router';

/** What `GET /v1/models` shows: the registry's models and which model really answers for each. */
@Injectable()
export class ModelsService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
  ) {}

  /** True when no provider is configured and the offline model answers everything. */
  get offlineMode(): boolean {
    return this.registry.offlineMode;
  }

  /** @returns every registered model, the offline one last, each with the model the router would answer with */
  list(): ModelListDto {
    return { object: 'list', data: this.registry.list().map((m) => this.toDto(m)) };
  }

  /**
   * @param nameOrAlias a registry id (`openai/gpt-4o-mini`) or alias (`gpt-4`), case-insensitive
   * @returns that model
   * @throws ProblemException 404 (`code: model_not_found`, OpenAI's code) when the registry has no such model
   */
  get(nameOrAlias: string): ModelDto {
    const model = this.registry.find(nameOrAlias);
    if (!model) {
      throw new ProblemException(HttpStatus.NOT_FOUND, `The model "${nameOrAlias}" does not exist.`, {
        code: 'model_not_found',
        param: 'model',
      });
    }
    return this.toDto(model);
  }

  private toDto(model: RegisteredModel): ModelDto {
    return ModelDto.from(model, this.router.answeringModel(model)?.id ?? null);
  }
}
