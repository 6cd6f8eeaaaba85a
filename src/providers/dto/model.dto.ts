import { ApiProperty } from '@nestjs/swagger';
import { RegisteredModel } from '../model-registry';

/** Price of a model in USD per 1M tokens, as its provider publishes it. */
export class ModelPricingDto {
  /** USD per 1M input (prompt) tokens. */
  input_per_1m: number;
  /** USD per 1M output (completion) tokens, reasoning tokens included. */
  output_per_1m: number;
  /** USD per 1M input tokens served from the provider's prompt cache; null when the registry has no such price. */
  @ApiProperty({ type: Number, nullable: true }) cached_input_per_1m: number | null;
  /** ISO date (`YYYY-MM-DD`) the prices were taken from the provider's price list; null when unknown. */
  @ApiProperty({ type: String, format: 'date', nullable: true }) priced_at: string | null;
}

/**
 * A model of the registry: OpenAI's model object (`id`, `object`, `created`, `owned_by`, as the OpenAI SDKs read
 * it) plus what this server knows about it.
 */
export class ModelDto {
  /** Registry id, `provider/model`, e.g. `openai/gpt-4o-mini`. */
  id: string;
  /** Always `model`. */
  @ApiProperty({ enum: ['model'] }) object: 'model';
  /**
   * Unix time (seconds) of the registry entry: the day its prices were taken (`pricing.priced_at`), 0 when
   * unknown. The registry keeps no release dates.
   */
  @ApiProperty({ type: 'integer', format: 'int64' }) created: number;
  /** Who serves it: the provider name, as in `provider`. */
  owned_by: string;
  /** Provider name, e.g. `openai`, `groq`, `offline`. */
  provider: string;
  /** Most tokens (input and output together) the model accepts. */
  @ApiProperty({ type: 'integer' }) context_window: number;
  /** Most tokens the model writes in one answer. */
  @ApiProperty({ type: 'integer' }) max_output_tokens: number;
  pricing: ModelPricingDto;
  /** Other names that resolve to this model, case-insensitively (`gpt-4`, `fast`). */
  aliases: string[];
  /** It takes `tools` and calls them; a request with tools to a model without them is a 400. */
  supports_tools: boolean;
  /** It takes image parts; a request with images to a model without them is a 400. */
  supports_vision: boolean;
  /** Its provider is configured on this server (has credentials, or needs none). */
  available: boolean;
  /**
   * Registry id of the model that really answers a request for this one (unless calls fail): itself when
   * available, else the first of its fallbacks whose provider is configured; `offline/echo` for every model in
   * offline mode; null when it can't be used (neither its provider nor any fallback's is configured).
   */
  @ApiProperty({ type: String, nullable: true }) answered_by: string | null;
  /** The caller's tier lets it send to this model (its `allowed_models`; README "Budgets and quotas"). */
  allowed: boolean;

  /** Maps a registry model to the wire format; `answeredBy` is the router's answering model id (or null). */
  static from(m: RegisteredModel, answeredBy: string | null): Omit<ModelDto, 'allowed'> {
    return {
      id: m.id,
      object: 'model',
      created: m.pricing.pricedAt ? Date.parse(`${m.pricing.pricedAt}T00:00:00Z`) / 1000 : 0,
      owned_by: m.provider,
      provider: m.provider,
      context_window: m.contextWindow,
      max_output_tokens: m.maxOutputTokens,
      pricing: {
        input_per_1m: m.pricing.inputPer1m,
        output_per_1m: m.pricing.outputPer1m,
        cached_input_per_1m: m.pricing.cachedInputPer1m ?? null,
        priced_at: m.pricing.pricedAt,
      },
      aliases: m.aliases,
      supports_tools: m.supportsTools,
      supports_vision: m.supportsVision,
      available: m.available,
      answered_by: answeredBy,
    };
  }
}

/** `GET /v1/models`: OpenAI's list object, so the OpenAI SDKs' `models.list()` reads it. */
export class ModelListDto {
  /** Always `list`. */
  @ApiProperty({ enum: ['list'] }) object: 'list';
  /** Every registered model, the offline one last. */
  data: ModelDto[];
}
