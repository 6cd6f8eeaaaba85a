import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import type { FieldError } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { OFFLINE_ALIAS, OFFLINE_MODEL_ID, OFFLINE_PROVIDER } from '../config/builtin-models';
import { ModelUsage } from './model-provider';
import { MaxTokensField, ProviderConfig, ProviderProtocol } from '../config/file-config';

/** A model name that is neither a registry id nor an alias; answered 400 naming the known models. */
export class UnknownModelError extends DomainError {
  readonly code = 'model.unknown' as const;
  override readonly fieldErrors: FieldError[] = [{ field: 'model', message: 'unknown model' }];

  constructor(message: string) {
    super(message);
    this.name = 'UnknownModelError';
  }
}

export { OFFLINE_MODEL_ID, OFFLINE_PROVIDER } from '../config/builtin-models';

/** What a request needs of the model answering it, beyond text: `tools` (function definitions), `vision` (images). */
export interface ModelNeeds {
  tools?: boolean;
  vision?: boolean;
}

/** A model capability a request may need, named as the registry key says it. */
export type ModelCapability = 'supports_tools' | 'supports_vision';

/** @returns the first capability `needs` asks for that `model` lacks, or undefined when it can serve the request */
export function missingCapability(model: RegisteredModel, needs: ModelNeeds | undefined): ModelCapability | undefined {
  if (needs?.tools && !model.supportsTools) return 'supports_tools';
  if (needs?.vision && !model.supportsVision) return 'supports_vision';
  return undefined;
}

/**
 * A request the model can't serve: tools to a model without `supports_tools`, or images to one without
 * `supports_vision` (400 naming the model and the capability; the field at fault in `errors`).
 */
export class ModelCapabilityError extends DomainError {
  readonly code = 'model.capability' as const;
  override readonly fieldErrors: FieldError[];
  override readonly extensions: Record<string, unknown>;

  /** @param field the request field that needs the capability (`tools`, `messages.0.content.1`) */
  constructor(model: RegisteredModel, capability: ModelCapability, field: string) {
    const what = capability === 'supports_tools' ? 'tools (function calling)' : 'image input';
    super(`The model ${model.id} does not support ${what} (${capability} is false in the model registry); choose another model.`);
    this.name = 'ModelCapabilityError';
    this.fieldErrors = [{ field, message: `${model.id} does not support ${what}` }];
    this.extensions = { model: model.id, capability };
  }
}

/** A model as the registry knows it (from the YAML file's `models`, plus the built-in offline model). */
export interface RegisteredModel {
  /** `provider/model`, e.g. `openai/gpt-4o-mini` */
  id: string;
  provider: string;
  /** The name the provider's API expects (the id without its `provider/` prefix). */
  upstreamModel: string;
  aliases: string[];
  contextWindow: number;
  maxOutputTokens: number;
  /**
   * USD per 1M tokens; `cachedInputPer1m` for input tokens served from the prompt cache (unset: they cost the
   * input price), `pricedAt` the ISO date the prices were taken (null when the registry entry doesn't say).
   */
  pricing: { inputPer1m: number; outputPer1m: number; cachedInputPer1m?: number; pricedAt: string | null };
  /** Registry ids to try, in order, when this model fails before its first piece (`fallbacks` in the YAML file). */
  fallbacks: string[];
  /** False when the model refuses any temperature but its default: adapters then leave `temperature` out. */
  supportsTemperature: boolean;
  /** It takes function definitions and calls them (`supports_tools`; default true). */
  supportsTools: boolean;
  /** It takes image parts (`supports_vision`; default true for the `anthropic` and `gemini` protocols, else false). */
  supportsVision: boolean;
  /** Its provider has credentials (or needs none). */
  available: boolean;
  /** The wire protocol of its provider: what estimates of its tokens follow (e.g. each protocol's image rule). */
  protocol: ProviderProtocol;
}

/** Where and how to reach one provider, and the wire protocol it speaks. */
export interface ProviderEndpoint {
  name: string;
  /** `openai` (Chat Completions, the default), `anthropic` (Messages API) or `gemini` (generateContent). */
  protocol: ProviderProtocol;
  baseUrl: string;
  apiKey?: string;
  /** `openai` protocol: the field carrying the output limit when it isn't `max_tokens`. */
  maxTokensField?: MaxTokensField;
}

/**
 * The model registry: configuration, not code (API.md "Behaviour"). Resolves ids and aliases, knows which
 * providers have credentials, and picks the default model: `DEFAULT_MODEL`, else the first available model,
 * else the offline one. With no provider configured at all the service runs in **offline mode**: every request
 * is answered by the offline model, and `/v1/models` and the start-up log say so.
 */
@Injectable()
export class ModelRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger(ModelRegistry.name);
  private readonly models: RegisteredModel[];
  private readonly byName = new Map<string, RegisteredModel>();
  private readonly endpoints = new Map<string, ProviderEndpoint>();
  private readonly defaultId: string;

  constructor(@Inject(appConfig.KEY) config: AppConfig) {
    for (const [name, p] of Object.entries(config.providers)) {
      const baseUrl = (p.base_url_env && config.env[p.base_url_env]) || p.base_url;
      const apiKey = apiKeyOf(p, config.env);
      const requiresKey = p.requires_api_key ?? true;
      const configured = Boolean(baseUrl) && (requiresKey ? Boolean(apiKey) : Boolean(p.base_url_env && config.env[p.base_url_env]));
      if (configured) {
        this.endpoints.set(name, {
          name,
          protocol: p.protocol ?? 'openai',
          baseUrl: baseUrl!,
          apiKey,
          ...(p.max_tokens_field && p.max_tokens_field !== 'max_tokens' && { maxTokensField: p.max_tokens_field }),
        });
      }
    }
    this.models = [
      ...config.models.map((m) => {
        const slash = m.id.indexOf('/');
        const provider = m.id.slice(0, slash);
        const protocol = config.providers[provider]?.protocol ?? 'openai';
        return {
          id: m.id,
          provider,
          upstreamModel: m.id.slice(slash + 1),
          aliases: m.aliases ?? [],
          contextWindow: m.context_window,
          maxOutputTokens: m.max_output_tokens,
          pricing: {
            inputPer1m: m.pricing.input_per_1m,
            outputPer1m: m.pricing.output_per_1m,
            ...(m.pricing.cached_input_per_1m !== undefined && { cachedInputPer1m: m.pricing.cached_input_per_1m }),
            pricedAt: m.pricing.priced_at ?? null,
          },
          fallbacks: m.fallbacks ?? [],
          supportsTemperature: m.supports_temperature ?? true,
          supportsTools: m.supports_tools ?? true,
          supportsVision: m.supports_vision ?? protocol !== 'openai',
          available: this.endpoints.has(provider),
          protocol,
        };
      }),
      {
        id: OFFLINE_MODEL_ID,
        provider: OFFLINE_PROVIDER,
        upstreamModel: 'echo',
        aliases: [OFFLINE_ALIAS],
        contextWindow: 32_768,
        maxOutputTokens: 4_096,
        pricing: { inputPer1m: 0, outputPer1m: 0, pricedAt: null },
        fallbacks: [],
        supportsTemperature: true,
        // The offline model calls tools and describes images itself, so every path can be tried with no key.
        supportsTools: true,
        supportsVision: true,
        available: true,
        protocol: 'openai' as const,
      },
    ];
    for (const m of this.models) for (const name of [m.id, ...m.aliases]) this.byName.set(name.toLowerCase(), m);
    // loadAppConfig has already refused fallbacks the registry doesn't know: resolve aliases to ids once.
    for (const m of this.models) m.fallbacks = m.fallbacks.map((name) => this.byName.get(name.toLowerCase())!.id);

    // loadAppConfig has already refused a DEFAULT_MODEL the registry doesn't know.
    const requested = config.defaultModel ? this.byName.get(config.defaultModel.toLowerCase()) : undefined;
    this.defaultId = (requested ?? this.models.find((m) => m.available && m.provider !== OFFLINE_PROVIDER) ?? this.offline).id;
  }

  onApplicationBootstrap(): void {
    if (this.offlineMode) {
      this.logger.warn(
        `Offline mode: no model provider has credentials, so every request is answered by the built-in offline model "${OFFLINE_MODEL_ID}". Set e.g. OPENAI_API_KEY to use a real model.`,
      );
    } else {
      this.logger.log(`Providers configured: ${[...this.endpoints.keys()].join(', ')}; default model ${this.defaultId}`);
    }
  }

  /** True when no provider has credentials: the offline model answers for every model. */
  get offlineMode(): boolean {
    return this.endpoints.size === 0;
  }

  get offline(): RegisteredModel {
    return this.models[this.models.length - 1];
  }

  /** Every registered model, the offline one last. */
  list(): RegisteredModel[] {
    return this.models;
  }

  /** The model used when a request names none. */
  defaultModel(): RegisteredModel {
    return this.byName.get(this.defaultId.toLowerCase())!;
  }

  /** @returns the model with this id or alias (case-insensitive), or undefined. */
  find(nameOrAlias: string): RegisteredModel | undefined {
    return this.byName.get(nameOrAlias.trim().toLowerCase());
  }

  /**
   * @returns the model with this id or alias
   * @throws UnknownModelError naming the known models when there is none
   */
  resolve(nameOrAlias: string): RegisteredModel {
    const model = this.find(nameOrAlias);
    if (!model) {
      const known = this.models.map((m) => m.id).join(', ');
      throw new UnknownModelError(`Unknown model "${nameOrAlias}". Known models: ${known}.`);
    }
    return model;
  }

  /** Credentials and URL of a configured provider, or undefined when it has none. */
  endpoint(provider: string): ProviderEndpoint | undefined {
    return this.endpoints.get(provider);
  }
}

/** The first non-empty variable named by `api_key_env` (one name, or several tried in order). */
function apiKeyOf(p: ProviderConfig, env: Record<string, string | undefined>): string | undefined {
  const names = p.api_key_env === undefined ? [] : [p.api_key_env].flat();
  return names.map((n) => env[n]).find((v) => Boolean(v));
}

/**
 * Cost of one call in USD: tokens × price per 1M tokens, rounded to 8 decimals (the `numeric(18,8)` columns).
 * Cached input tokens (part of `inputTokens`) are charged at `cachedInputPer1m` when the model has one, else at
 * the input price; reasoning tokens are part of `outputTokens` and charged as output (how OpenAI, Anthropic and
 * Google bill them).
 * @param usage token counts; `cachedInputTokens` is clamped to `inputTokens`
 */
export function costOf(
  model: RegisteredModel,
  usage: Pick<ModelUsage, 'inputTokens' | 'outputTokens' | 'cachedInputTokens'>,
): number {
  const { inputPer1m, outputPer1m, cachedInputPer1m = inputPer1m } = model.pricing;
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const raw = ((usage.inputTokens - cached) * inputPer1m + cached * cachedInputPer1m + usage.outputTokens * outputPer1m) / 1_000_000;
  return roundUsd(raw);
}

/** @returns `usd` rounded to 8 decimals, the precision of the `numeric(18,8)` cost columns */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e8) / 1e8;
}
