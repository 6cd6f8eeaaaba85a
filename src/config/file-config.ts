import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';

/** Context-management modes of seed 003. */
export const CONTEXT_MODES = ['full', 'summary_window'] as const;
export type ContextMode = (typeof CONTEXT_MODES)[number];

export class LimitsConfig {
  @IsInt() @Min(1) max_input_length = 10_000;
  @IsInt() @Min(1) @Max(1000) max_messages_per_request = 50;
  @IsInt() @Min(1) max_upload_bytes = 10 * 1024 * 1024;
  @IsInt() @Min(1024) json_body_bytes = 1024 * 1024;
  /** A whole upstream call, first byte sent to last byte received. */
  @IsInt() @Min(100) provider_timeout_ms = 300_000;
  /** Until a provider's response headers arrive (connection, TLS, request accepted); streamed calls only. */
  @IsInt() @Min(100) provider_connect_timeout_ms = 10_000;
  /** Quiet time after which an open SSE stream gets a `: ping` comment; 0 disables. */
  @IsInt() @Min(0) sse_heartbeat_ms = 15_000;
}

export class AuthConfig {
  @IsInt() @Min(10) @Max(86_400) access_token_ttl_seconds = 900;
  @IsInt() @Min(60) refresh_token_ttl_seconds = 30 * 86_400;
  @IsString() issuer = 'chat-backend';
  @IsString() audience = 'chat-backend-api';
}

export class TierLimitConfig {
  @IsInt() @Min(1) requests: number;
  @IsInt() @Min(1) sends: number;
}

export class RateLimitsConfig {
  @IsInt() @Min(1) window_seconds = 60;
  @IsInt() @Min(1) unauthenticated_per_ip = 60;
  @IsInt() @Min(1) auth_per_ip = 10;
  /** Tier name → limits; converted entry by entry by the loader (class-transformer has no typed maps). */
  @IsObject() @ValidateNested({ each: true })
  tiers: Record<string, TierLimitConfig> = {
    free: Object.assign(new TierLimitConfig(), { requests: 120, sends: 10 }),
  };
}

export class ContextManagementConfig {
  @IsIn(CONTEXT_MODES) mode: ContextMode = 'full';
  @IsInt() @Min(1) window_size = 5;
  @IsInt() @Min(1) summarize_after_messages = 10;
  @IsInt() @Min(1) summary_update_interval = 5;
}

export class OfflineConfig {
  @IsInt() @Min(0) @Max(10_000) piece_delay_ms = 15;
}

/** Wire protocols the adapters speak: OpenAI Chat Completions, Anthropic Messages, Gemini generateContent. */
export const PROVIDER_PROTOCOLS = ['openai', 'anthropic', 'gemini'] as const;
export type ProviderProtocol = (typeof PROVIDER_PROTOCOLS)[number];

/** One provider: the protocol it speaks, where it lives, and which variables hold its URL and key. */
export class ProviderConfig {
  @IsOptional() @IsIn(PROVIDER_PROTOCOLS) protocol?: ProviderProtocol;
  @IsOptional() @IsString() base_url?: string;
  @IsOptional() @IsString() base_url_env?: string;
  /** Variable holding the key, or several tried in order (`[GOOGLE_API_KEY, GEMINI_API_KEY]`). */
  @IsOptional() @IsString({ each: true }) api_key_env?: string | string[];
  @IsOptional() @IsBoolean() requires_api_key?: boolean;
}

/** USD per 1M tokens, as the provider publishes it, and the day the price was read. */
export class PricingConfig {
  @IsNumber() @Min(0) input_per_1m: number;
  @IsNumber() @Min(0) output_per_1m: number;
  /** Price of input tokens served from the provider's prompt cache; unset when the provider has none. */
  @IsOptional() @IsNumber() @Min(0) cached_input_per_1m?: number;
  /** ISO date (`2026-11-01`) the price was taken from the provider's price list; every shipped model has one. */
  @IsOptional() @IsISO8601({ strict: true }) @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'priced_at must be a date like 2026-11-01' })
  priced_at?: string;
}

/** One registry entry: `provider/model`, its aliases, its limits and its price per 1M tokens. */
export class ModelConfig {
  @IsString() @Matches(/^[a-z0-9][a-z0-9_.-]*\/.+$/, { message: 'id must look like provider/model' }) id: string;
  @IsOptional() @IsArray() @IsString({ each: true }) aliases: string[] = [];
  @IsInt() @Min(1) context_window: number;
  @IsInt() @Min(1) max_output_tokens: number;
  @ValidateNested() @Type(() => PricingConfig) pricing: PricingConfig;
  /**
   * False for models that refuse any temperature but their default (reasoning models such as OpenAI's GPT-5
   * family and Anthropic's Claude 5 family answer 400): the request's temperature is then left out.
   */
  @IsOptional() @IsBoolean() supports_temperature?: boolean;
}

/** The YAML file (`config.yaml` or `CONFIG_FILE`): model registry, pricing, tiers, context management. */
export class FileConfig {
  @IsOptional() @IsString() default_model?: string | null;
  @ValidateNested() @Type(() => LimitsConfig) limits = new LimitsConfig();
  @ValidateNested() @Type(() => AuthConfig) auth = new AuthConfig();
  @ValidateNested() @Type(() => RateLimitsConfig) rate_limits = new RateLimitsConfig();
  @ValidateNested() @Type(() => ContextManagementConfig) context_management = new ContextManagementConfig();
  @ValidateNested() @Type(() => OfflineConfig) offline = new OfflineConfig();
  @IsObject() @ValidateNested({ each: true }) providers: Record<string, ProviderConfig> = {};
  @IsArray() @ValidateNested({ each: true }) @Type(() => ModelConfig) models: ModelConfig[] = [];
}
