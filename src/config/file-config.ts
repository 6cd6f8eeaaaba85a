import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
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
  @IsInt() @Min(100) provider_timeout_ms = 300_000;
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
  /** Tokens of the session's document text (PDF uploads) sent with each request; longer text is cut. */
  @IsInt() @Min(0) documents_budget_tokens = 8000;
}

/** PDF uploads (README "Files (PDF upload)"); the upload size limit is `limits.max_upload_bytes`. */
export class FilesConfig {
  /** Files with more pages are refused (422) before any text is extracted. */
  @IsInt() @Min(1) max_pages = 500;
  /** Wall-clock budget of one extraction child process; it is killed beyond (422). */
  @IsInt() @Min(100) extraction_timeout_ms = 15_000;
  /** Resident memory budget (MiB) of one extraction child process; it is killed beyond (422). */
  @IsInt() @Min(64) extraction_memory_mb = 512;
  /** Characters of extracted text kept per file; the answer says `text_truncated` when cut. */
  @IsInt() @Min(1) max_text_chars = 200_000;
  /** Extractions running at once in this instance; 429 beyond. */
  @IsInt() @Min(1) max_concurrent_extractions = 2;
  /** Extractions running at once for one user in this instance; 429 beyond. */
  @IsInt() @Min(1) max_concurrent_extractions_per_user = 1;
  /** With S3 storage: how often objects of deleted files (sessions, users) are removed from the bucket. */
  @IsInt() @Min(100) storage_cleanup_interval_ms = 10_000;
}

export class OfflineConfig {
  @IsInt() @Min(0) @Max(10_000) piece_delay_ms = 15;
}

/** One OpenAI-compatible provider: where it lives and which variables hold its URL and key. */
export class ProviderConfig {
  @IsOptional() @IsString() base_url?: string;
  @IsOptional() @IsString() base_url_env?: string;
  @IsOptional() @IsString() api_key_env?: string;
  @IsOptional() @IsBoolean() requires_api_key?: boolean;
}

export class PricingConfig {
  @IsNumber() @Min(0) input_per_1m: number;
  @IsNumber() @Min(0) output_per_1m: number;
}

/** One registry entry: `provider/model`, its aliases, its limits and its price per 1M tokens. */
export class ModelConfig {
  @IsString() @Matches(/^[a-z0-9][a-z0-9_.-]*\/.+$/, { message: 'id must look like provider/model' }) id: string;
  @IsOptional() @IsArray() @IsString({ each: true }) aliases: string[] = [];
  @IsInt() @Min(1) context_window: number;
  @IsInt() @Min(1) max_output_tokens: number;
  @ValidateNested() @Type(() => PricingConfig) pricing: PricingConfig;
}

/** The YAML file (`config.yaml` or `CONFIG_FILE`): model registry, pricing, tiers, context management. */
export class FileConfig {
  @IsOptional() @IsString() default_model?: string | null;
  @ValidateNested() @Type(() => LimitsConfig) limits = new LimitsConfig();
  @ValidateNested() @Type(() => AuthConfig) auth = new AuthConfig();
  @ValidateNested() @Type(() => RateLimitsConfig) rate_limits = new RateLimitsConfig();
  @ValidateNested() @Type(() => ContextManagementConfig) context_management = new ContextManagementConfig();
  @ValidateNested() @Type(() => OfflineConfig) offline = new OfflineConfig();
  @ValidateNested() @Type(() => FilesConfig) files = new FilesConfig();
  @IsObject() @ValidateNested({ each: true }) providers: Record<string, ProviderConfig> = {};
  @IsArray() @ValidateNested({ each: true }) @Type(() => ModelConfig) models: ModelConfig[] = [];
}
