import { Injectable } from '@nestjs/common';
import { ModelDto } from './dto/model.dto';
import { ModelRegistry } from './model-registry';
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
  list(): ModelDto[] {
    return this.registry.list().map((m) => ModelDto.from(m, this.router.answeringModel(m)?.id ?? null));
  }
}
