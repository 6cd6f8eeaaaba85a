import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelProvider } from './model-provider';
import { ModelRegistry, OFFLINE_PROVIDER, RegisteredModel } from './model-registry';
import { OfflineModelProvider } from './offline/offline.model-provider';
import { OpenAiCompatibleModelProvider } from './openai-compatible/openai-compatible.model-provider';

/** The adapter that will answer, and the model it answers as (the offline model in offline mode). */
export interface ProviderSelection {
  provider: ModelProvider;
  model: RegisteredModel;
}

/**
 * Picks the adapter for a registry model: the offline model for `offline/*` (and for every model in offline
 * mode), an OpenAI-compatible adapter for providers configured with a base URL and key. Adapters are created
 * once per provider and reused.
 */
@Injectable()
export class ModelProviderFactory {
  private readonly adapters = new Map<string, ModelProvider>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly offline: OfflineModelProvider,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * @throws ProblemException 503 when the model's provider has no credentials (outside offline mode)
   */
  forModel(model: RegisteredModel): ProviderSelection {
    if (model.provider === OFFLINE_PROVIDER || this.registry.offlineMode) {
      return { provider: this.offline, model: this.registry.offline };
    }
    const endpoint = this.registry.endpoint(model.provider);
    if (!endpoint) {
      throw new ProblemException(
        HttpStatus.SERVICE_UNAVAILABLE,
        `Model "${model.id}" is not available: provider "${model.provider}" is not configured on this server.`,
      );
    }
    let adapter = this.adapters.get(endpoint.name);
    if (!adapter) {
      adapter = new OpenAiCompatibleModelProvider(endpoint, { timeoutMs: this.config.limits.provider_timeout_ms });
      this.adapters.set(endpoint.name, adapter);
    }
    return { provider: adapter, model };
  }
}
