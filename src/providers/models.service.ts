import { Injectable } from '@nestjs/common';
import { ModelDto } from './dto/model.dto';
import { ModelRegistry, OFFLINE_MODEL_ID, OFFLINE_PROVIDER, RegisteredModel } from './model-registry';

/** What `GET /v1/models` shows: the registry's models and which model really answers for each. */
@Injectable()
export class ModelsService {
  constructor(private readonly registry: ModelRegistry) {}

  /** True when no provider is configured and the offline model answers everything. */
  get offlineMode(): boolean {
    return this.registry.offlineMode;
  }

  /** @returns every registered model, the offline one last */
  list(): ModelDto[] {
    return this.registry.list().map((m) => ModelDto.from(m, this.answeredBy(m)));
  }

  /** The same rule as `ModelProviderFactory.forModel`: offline mode or an offline model → `offline/echo`. */
  private answeredBy(model: RegisteredModel): string | null {
    if (model.provider === OFFLINE_PROVIDER || this.registry.offlineMode) return OFFLINE_MODEL_ID;
    return model.available ? model.id : null;
  }
}
