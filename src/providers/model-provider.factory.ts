import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { ImagesService } from '../images/images.service';
import { AnthropicModelProvider } from './anthropic/anthropic.model-provider';
import { GeminiModelProvider } from './gemini/gemini.model-provider';
import { ModelProvider, ModelProviderError } from './model-provider';
import { ModelRegistry, OFFLINE_PROVIDER, ProviderEndpoint, RegisteredModel } from './model-registry';
import { OfflineModelProvider } from './offline/offline.model-provider';
import { OpenAiCompatibleModelProvider } from './openai-compatible/openai-compatible.model-provider';

/** The adapter that will answer, and the model it answers as (the offline model in offline mode). */
export interface ProviderSelection {
  provider: ModelProvider;
  model: RegisteredModel;
}

/**
 * Picks the adapter for a registry model: the offline model for `offline/*` (and for every model in offline
 * mode), else the adapter for its provider's `protocol` (`openai` → Chat Completions, `anthropic` → Messages API,
 * `gemini` → Gemini API) once the provider has a base URL and key. Adapters are created once per provider and
 * reused.
 */
@Injectable()
export class ModelProviderFactory {
  private readonly adapters = new Map<string, ModelProvider>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly offline: OfflineModelProvider,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly images: ImagesService,
  ) {}

  /**
   * The adapter for `model`'s provider (created on first use), or the offline model in offline mode.
   * @returns the adapter and the model it answers as: `model` itself, or the offline model for `offline/*` and in
   *          offline mode
   * @throws ModelProviderError `not_configured` when the model's provider has no credentials (outside offline mode)
   */
  forModel(model: RegisteredModel): ProviderSelection {
    if (model.provider === OFFLINE_PROVIDER || this.registry.offlineMode) {
      return { provider: this.offline, model: this.registry.offline };
    }
    const endpoint = this.registry.endpoint(model.provider);
    if (!endpoint) {
      throw new ModelProviderError(
        'not_configured',
        `Model "${model.id}" is not available: provider "${model.provider}" is not configured on this server.`,
      );
    }
    let adapter = this.adapters.get(endpoint.name);
    if (!adapter) {
      adapter = this.create(endpoint);
      this.adapters.set(endpoint.name, adapter);
    }
    return { provider: adapter, model };
  }

  private create(endpoint: ProviderEndpoint): ModelProvider {
    const options = {
      timeoutMs: this.config.limits.provider_timeout_ms,
      connectTimeoutMs: this.config.limits.provider_connect_timeout_ms,
      models: (upstream: string) => this.registry.find(`${endpoint.name}/${upstream}`),
      // Protocols that take images only inline get https: images through the SSRF-safe fetcher.
      loadImage: (url: string, signal: AbortSignal) => this.images.load(url, signal),
    };
    switch (endpoint.protocol) {
      case 'anthropic':
        return new AnthropicModelProvider(endpoint, options);
      case 'gemini':
        return new GeminiModelProvider(endpoint, options);
      case 'openai':
        return new OpenAiCompatibleModelProvider(endpoint, options);
    }
  }
}
