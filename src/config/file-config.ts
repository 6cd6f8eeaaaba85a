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

/** Context-management modes. */
export const CONTEXT_MODES = ['full', 'summary_window'] as const;
export type ContextMode = (typeof CONTEXT_MODES)[number];

export class LimitsConfig {
  @IsInt() @Min(1) max_input_length = 10_000;
  @IsInt() @Min(1) @Max(1000) max_messages_per_request = 50;
  @IsInt() @Min(1) max_upload_bytes = 10 * 1024 * 1024;
  @IsInt() @Min(1024) json_body_bytes = 1024 * 1024;
  /** Deepest nesting of arrays and objects in a JSON body; deeper bodies are refused (400) before parsing. */
  @IsInt() @Min(2) @Max(10_000) json_max_depth = 64;
  /** A whole upstream call, first byte sent to last byte received. */
  @IsInt() @Min(100) provider_timeout_ms = 300_000;
  /** Most time from sending a request to a model until its first piece (or whole answer) arrives. */
  @IsInt() @Min(100) provider_first_token_timeout_ms = 60_000;
  /** Most quiet time between two pieces of a streamed answer. */
  @IsInt() @Min(100) provider_idle_timeout_ms = 60_000;
  /** Widest range of days one `GET /v1/users/{id}/usage` may ask for. */
  @IsInt() @Min(1) @Max(3660) usage_max_range_days = 366;
  /** Until a provider's response headers arrive (connection, TLS, request accepted); streamed calls only. */
  @IsInt() @Min(100) provider_connect_timeout_ms = 10_000;
  /** Quiet time after which an open SSE stream gets a `: ping` comment; 0 disables. */
  @IsInt() @Min(0) sse_heartbeat_ms = 15_000;
  /** Most time a client may take to send a request's headers (Node's `server.headersTimeout`); then 408 and close. */
  @IsInt() @Min(1000) headers_timeout_ms = 10_000;
  /**
   * Most time a client may take to send a whole request, body included (Node's `server.requestTimeout`). Answers
   * are not limited by it: a long SSE stream runs on.
   */
  @IsInt() @Min(1000) request_timeout_ms = 60_000;
  /** An idle keep-alive connection is closed after this (Node's `server.keepAliveTimeout`). */
  @IsInt() @Min(1000) keep_alive_timeout_ms = 5_000;
  /** Image parts in one request's messages, all messages together. */
  @IsInt() @Min(0) @Max(1000) max_images_per_request = 8;
  /** Characters of one image part's `url` (a `data:` URL carries the whole image in base64: ~4/3 of its bytes). */
  @IsInt() @Min(100) max_image_url_length = 7_000_000;
}

/** Function definitions a request offers the model (`tools`); a request beyond a limit is a 422 naming the field. */
export class ToolsConfig {
  /** Tools in one request (OpenAI's own limit is 128). */
  @IsInt() @Min(1) @Max(10_000) max_tools = 128;
  /** Characters of one tool's `description`. */
  @IsInt() @Min(1) max_description_length = 4_096;
  /** Deepest nesting of objects and arrays in one tool's `parameters` JSON Schema (the schema object itself is 1). */
  @IsInt() @Min(1) @Max(1_000) max_parameters_depth = 16;
  /** Bytes of one tool's `parameters` as JSON (UTF-8). */
  @IsInt() @Min(64) max_parameters_bytes = 32_768;
}

/**
 * Image parts: how big an image may be, and how the server fetches `https:` image URLs (through its SSRF-safe
 * fetcher: public addresses only, unless listed in `fetch_allowed_networks`).
 */
export class ImagesConfig {
  /** Bytes of one image (decoded `data:` URL, or the body fetched from an `https:` URL). */
  @IsInt() @Min(1024) max_bytes = 5 * 1024 * 1024;
  /** Most time one image fetch may take, DNS, redirects and body included. */
  @IsInt() @Min(100) fetch_timeout_ms = 10_000;
  /** Redirects followed per fetch; each target is checked like the first URL. */
  @IsInt() @Min(0) @Max(20) fetch_max_redirects = 3;
  /**
   * CIDRs (`10.1.2.0/24`, `fd00::/8`) image URLs may reach although they are not public addresses: an operator's
   * internal image hosts. Empty: public unicast addresses only.
   */
  @IsArray() @IsString({ each: true }) fetch_allowed_networks: string[] = [];
  /** A PEM file of CA certificates trusted for image fetches besides the system's (an internal image host's CA). */
  @IsOptional() @IsString() fetch_ca_file?: string;
}

/**
 * Retries of a failed model call before its first piece reached the client (429, 5xx, connection failures,
 * first-token timeouts): exponential backoff with jitter, or the provider's `Retry-After` when it sends one.
 */
export class RetriesConfig {
  /** Calls to one model per answer, the first one included (1: never retry). */
  @IsInt() @Min(1) @Max(10) max_attempts = 2;
  /** Backoff before the first retry; it doubles with each retry. */
  @IsInt() @Min(0) base_delay_ms = 500;
  /** Longest wait before a retry; a longer `Retry-After` skips to the next fallback (or answers 429). */
  @IsInt() @Min(0) max_delay_ms = 8_000;
}

/**
 * Per-account login backoff (README "Security"): after `free_failures` failed logins of one email, the next
 * attempt must wait `base_seconds`, doubling with each further failure up to `max_seconds`; a success clears it.
 */
export class LoginBackoffConfig {
  /** Failed logins of one account answered normally before it has to wait. */
  @IsInt() @Min(1) free_failures = 5;
  /** Wait after the `free_failures`-th failure; doubles with each further failure. */
  @IsInt() @Min(1) base_seconds = 1;
  /** Longest wait. */
  @IsInt() @Min(1) max_seconds = 900;
  /** A count of failures is forgotten after this long without another failure. */
  @IsInt() @Min(60) forget_after_seconds = 86_400;
}

export class AuthConfig {
  @IsInt() @Min(10) @Max(86_400) access_token_ttl_seconds = 900;
  @IsInt() @Min(60) refresh_token_ttl_seconds = 30 * 86_400;
  /**
   * Seconds after a refresh token is spent during which presenting it again returns the same successor pair
   * instead of counting as reuse (two tabs refreshing at once); 0 turns the overlap off. RFC 9700 §4.14.2.
   */
  @IsInt() @Min(0) @Max(300) refresh_reuse_overlap_seconds = 10;
  @IsString() issuer = 'chat-backend';
  @IsString() audience = 'chat-backend-api';
  /**
   * How long an instance may answer from its cached copy of a caller (user role, tier, disabled; API key) before
   * reading PostgreSQL again. Changes made through the API invalidate it at once (README "Security").
   */
  @IsInt() @Min(0) @Max(300_000) cache_ttl_ms = 5_000;
  /** Most callers (users plus API keys) one instance keeps cached; the oldest entry goes first. */
  @IsInt() @Min(1) cache_max_entries = 10_000;
  @ValidateNested() @Type(() => LoginBackoffConfig) login_backoff = new LoginBackoffConfig();
}

/**
 * Spending and model limits, on a tier in the YAML file or as an override on a user or an application; every key is
 * optional and `null` means unlimited. The effective limit of a caller is the tightest of tier, user and application.
 * Days and months are UTC calendar days and months.
 */
export class BudgetLimits {
  /** Input + output tokens per UTC clock minute. */
  @IsOptional() @IsInt() @Min(1) tokens_per_minute?: number | null;
  /** USD spent per UTC day, at the registry's prices. */
  @IsOptional() @IsNumber() @Min(0) daily_cost_usd?: number | null;
  /** USD spent per UTC calendar month. */
  @IsOptional() @IsNumber() @Min(0) monthly_cost_usd?: number | null;
  /** Input + output tokens per UTC day. */
  @IsOptional() @IsInt() @Min(1) daily_tokens?: number | null;
  /** Model ids or aliases the caller may use; a trailing `*` matches a prefix (`openai/*`). */
  @IsOptional() @IsArray() @IsString({ each: true }) allowed_models?: string[] | null;
  /** Most output tokens one answer may ask for: a larger `max_tokens` is a 422; without one, the output is capped to it. */
  @IsOptional() @IsInt() @Min(1) max_output_tokens?: number | null;
}

/** The keys of {@link BudgetLimits}, in the order they are reported. */
export const BUDGET_LIMIT_KEYS = [
  'tokens_per_minute',
  'daily_cost_usd',
  'monthly_cost_usd',
  'daily_tokens',
  'allowed_models',
  'max_output_tokens',
] as const satisfies readonly (keyof BudgetLimits)[];

/** Where budget counters live (README "Budgets and quotas"). */
export class BudgetsConfig {
  /** Prefix of the budget counters' Redis keys (with `REDIS_URL`), so several deployments can share one server. */
  @IsString() redis_key_prefix = 'budget:';
}

/** A tier: request and send rates per `rate_limits.window_seconds` (null: unlimited), plus its budgets. */
export class TierLimitConfig extends BudgetLimits {
  @IsOptional() @IsInt() @Min(1) requests?: number | null;
  @IsOptional() @IsInt() @Min(1) sends?: number | null;
}

export class RateLimitsConfig {
  @IsInt() @Min(1) window_seconds = 60;
  @IsInt() @Min(1) unauthenticated_per_ip = 60;
  @IsInt() @Min(1) auth_per_ip = 10;
  /** Tier name → limits; converted and validated entry by entry by the loader (class-transformer has no typed maps). */
  @IsObject()
  tiers: Record<string, TierLimitConfig> = {
    free: Object.assign(new TierLimitConfig(), { requests: 120, sends: 10 }),
  };
}

/** What a model is sent and what is kept for it (README "Context management"). */
export class ContextManagementConfig {
  /** `full`: every stored message that fits; `summary_window`: a rolling summary plus the newest messages. */
  @IsIn(CONTEXT_MODES) mode: ContextMode = 'full';
  /** summary_window: message pairs (user + assistant) kept verbatim after the summary. */
  @IsInt() @Min(1) window_size = 5;
  /** summary_window: stored messages before the first summary is made. */
  @IsInt() @Min(1) summarize_after_messages = 10;
  /** summary_window: messages that must leave the window before the summary is updated again. */
  @IsInt() @Min(1) summary_update_interval = 5;
  /** Model that writes summaries (registry id or alias); null: the session's own model. */
  @IsOptional() @IsString() summary_model: string | null = null;
  /** Most tokens a summary may have (the summary model's `max_tokens`). */
  @IsInt() @Min(16) summary_max_tokens = 512;
  /** Model that titles untitled sessions after their first exchange; null: the session's own model. */
  @IsOptional() @IsString() title_model: string | null = null;
  /** System prompt of sessions that have none; null: no system prompt. Not copied into sessions. */
  @IsOptional() @IsString() default_system_prompt: string | null = null;
  /** Tokens the session's documents may take in the context, as one block. */
  @IsInt() @Min(0) documents_budget_tokens = 8000;
  /** Tokens kept free beyond the reserved output, for framing the tokenizer can't see. */
  @IsInt() @Min(0) safety_margin_tokens = 256;
  /**
   * Multiplier on o200k counts for model families whose tokenizer we don't ship (Llama, Mistral, DeepSeek, Claude,
   * Gemini): their tokenizers use up to ~25% more tokens for the same text.
   */
  @IsNumber() @Min(1) @Max(4) token_estimate_factor = 1.25;
}

/** Prompt templates: size limits checked on create, update, preview and sessions started from a prompt. */
export class PromptsConfig {
  /** Characters in a prompt's content (and in a preview's ad-hoc `content`). */
  @IsInt() @Min(1) @Max(1_000_000) max_content_length = 20_000;
  /** Characters in one variable's value. */
  @IsInt() @Min(1) @Max(1_000_000) max_variable_length = 10_000;
  /** Variables in one request, and distinct placeholders in one prompt's content. */
  @IsInt() @Min(1) @Max(1000) max_variables = 50;
  /** Most output tokens a preview asks the model for. */
  @IsInt() @Min(1) preview_max_tokens = 1024;
}

/** `GET /v1/chat/history` (README "API at a glance"). */
export class HistoryConfig {
  /** Messages shown per session, the newest ones (oldest first): the page's cost stays bounded however long a session is. */
  @IsInt() @Min(1) @Max(10_000) messages_per_session = 50;
}

/** Full-text search of sessions and messages (README "Search"). */
export class SearchConfig {
  /**
   * PostgreSQL text search configuration (`SELECT cfgname FROM pg_ts_config`): how words are split, stemmed and which
   * are stop words. Checked at start-up; when it differs from the one `messages.search_vector` was built with, that
   * column is rebuilt then (the messages table is rewritten, as by a migration).
   */
  @IsString() @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'language must be a text search configuration name such as english or simple' })
  language = 'english';
  /** Longest snippet fragment, in words. */
  @IsInt() @Min(2) @Max(200) snippet_max_words = 30;
  /** Fragments a snippet may join (with " … "); 0: one stretch of text around the best match. */
  @IsInt() @Min(0) @Max(10) snippet_fragments = 2;
  /** Ids of a session's matching messages listed with it in searched session lists, best first. */
  @IsInt() @Min(1) @Max(100) message_ids_per_session = 5;
}

/** Export, import and share links of sessions (README "Branches, search, export and share"). */
export class SharingConfig {
  /** Most messages an export, an import or a share link's snapshot may hold (422 beyond). */
  @IsInt() @Min(1) @Max(1_000_000) max_messages = 10_000;
  /** Largest body of an import, in bytes (413 beyond); every other JSON body keeps `limits.json_body_bytes`. */
  @IsInt() @Min(1024) import_body_bytes = 10 * 1024 * 1024;
  /** Longest life of a share link, in days (a later `expires_at` is a 422); 0: links may live until revoked. */
  @IsInt() @Min(0) @Max(36_500) max_link_days = 0;
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
  /** Uploads being received or extracted at once in this instance; 429 beyond, before the body is read. */
  @IsInt() @Min(1) max_concurrent_extractions = 2;
  /** Uploads being received or extracted at once for one user in this instance; 429 beyond, before the body is read. */
  @IsInt() @Min(1) max_concurrent_extractions_per_user = 1;
  /** After a refusal sent mid-upload, how long what the client still sends is read and dropped (lingering close). */
  @IsInt() @Min(0) upload_linger_ms = 2_000;
  /** Parts of one upload's multipart body, the file included; other parts are skipped wherever they are, 413 beyond. */
  @IsInt() @Min(2) @Max(10_000) max_multipart_parts = 100;
  /** Bytes of an upload's body besides the file (boundaries, part headers, other parts); 413 beyond. */
  @IsInt() @Min(1024) max_multipart_overhead_bytes = 64 * 1024;
  /** Files one session may hold (all their texts go with every send); 422 beyond, before the body is read. */
  @IsInt() @Min(1) max_files_per_session = 20;
  /** With S3 storage: how often objects of deleted files (sessions, users) are removed from the bucket. */
  @IsInt() @Min(100) storage_cleanup_interval_ms = 10_000;
}

/** Answers that outlive their connection (README "Streams that survive"). */
export class StreamsConfig {
  /** Most time between two saves of an in-progress answer's text: what a crashed process can lose. */
  @IsInt() @Min(50) checkpoint_ms = 1_000;
  /** An in-progress answer whose instance has not shown it is alive for this long is marked `incomplete`. */
  @IsInt() @Min(1_000) lease_ms = 30_000;
  /** How often every instance looks for such answers. */
  @IsInt() @Min(100) sweep_interval_ms = 10_000;
  /** How long an answer's event log stays readable after the answer ended (then resume replays the stored row). */
  @IsInt() @Min(1) retention_seconds = 600;
  /** Most events kept in one answer's log (older ones are dropped; resume then replays the stored row). */
  @IsInt() @Min(10) max_events = 20_000;
  /** A resumed stream with no new event for this long checks the stored row (its instance may have stopped). */
  @IsInt() @Min(50) follow_check_ms = 2_000;
  /** Prefix of the Redis keys and channel of answers' logs and stop requests. */
  @IsString() key_prefix = 'answers:';
  /**
   * When storing a finished answer fails because PostgreSQL is out of reach, how long the write is retried (with
   * backoff) while the answer is kept in memory and in its event log; its stream ends once it is stored.
   */
  @IsInt() @Min(0) persist_retry_ms = 60_000;
  /**
   * With Redis: most time an answer's events wait to be written to the shared log, so every answer's events of the
   * interval share one round trip. Readers on other instances see them that much later; this instance's own
   * clients get them at once.
   */
  @IsInt() @Min(1) @Max(1_000) log_flush_ms = 20;
  /**
   * With Redis: keep answers' event logs there, so any instance can resume any answer. `false` keeps each log in
   * the memory of the instance generating the answer (resume works only there; stop requests still reach it).
   */
  @IsBoolean() shared_log = true;
}

/** Idempotent sends and creations (`Idempotency-Key`, README "Streams that survive"). */
export class IdempotencyConfig {
  /** How long a key is remembered: a repeat within it gets the first request's outcome; swept after. */
  @IsInt() @Min(1) ttl_seconds = 86_400;
  /** Longest key accepted (characters); a longer one is a 400. */
  @IsInt() @Min(8) @Max(1_000) max_key_length = 255;
  /**
   * A key whose first request has not stored anything after this long (its process stopped before) is given to the
   * next request with it.
   */
  @IsInt() @Min(1) pending_timeout_seconds = 60;
  /** How often every instance deletes expired keys (a key is also dropped when it is read after its expiry). */
  @IsInt() @Min(1_000) sweep_interval_ms = 600_000;
}

/**
 * The Redis clients (with `REDIS_URL`). While Redis refuses connections or the connection is down, commands fail at
 * once (no offline queue), so Redis-backed routes answer 503 without waiting; these bound the other cases.
 */
export class RedisConfig {
  /** Most time to open a connection (TCP, then the ready check) before it is dropped and dialled again. */
  @IsInt() @Min(50) @Max(60_000) connect_timeout_ms = 1_000;
  /**
   * Most time one command waits for its reply (a Redis that accepts connections but does not answer). Then the
   * command fails and the connection is dropped and dialled again, so the next commands fail at once.
   */
  @IsInt() @Min(10) @Max(60_000) command_timeout_ms = 500;
  /** Longest pause between two reconnection attempts (they start at 50 ms and double); they never stop. */
  @IsInt() @Min(50) @Max(60_000) reconnect_max_delay_ms = 2_000;
}

/** Stopping the process (SIGTERM). */
export class ShutdownConfig {
  /** Time running answers get to finish before they are saved as `incomplete` and their clients told to resume. */
  @IsInt() @Min(0) grace_ms = 25_000;
}

export class OfflineConfig {
  @IsInt() @Min(0) @Max(10_000) piece_delay_ms = 15;
}

/** Chat Completions fields that bound the output: the original one, and the one OpenAI's API now expects. */
export const MAX_TOKENS_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;
export type MaxTokensField = (typeof MAX_TOKENS_FIELDS)[number];

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
  /**
   * `openai` protocol only: the request field for the output limit. OpenAI's own API wants
   * `max_completion_tokens` (its reasoning models refuse `max_tokens`); most compatible servers read `max_tokens`.
   */
  @IsOptional() @IsIn(MAX_TOKENS_FIELDS) max_tokens_field?: MaxTokensField;
}

/** USD per 1M tokens, as the provider publishes it, and the day the price was read. */
export class PricingConfig {
  @IsNumber() @Min(0) input_per_1m: number;
  @IsNumber() @Min(0) output_per_1m: number;
  /** Price of input tokens served from the provider's prompt cache; unset: the input price. */
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
  /** Ids or aliases tried in order when this model fails before its first piece (after its retries). */
  @IsOptional() @IsArray() @IsString({ each: true }) fallbacks: string[] = [];
  /**
   * False for models that refuse any temperature but their default (reasoning models such as OpenAI's GPT-5
   * family and Anthropic's Claude 5 family answer 400): the request's temperature is then left out.
   */
  @IsOptional() @IsBoolean() supports_temperature?: boolean;
  /**
   * The model takes function definitions and calls them (`tools`). Unset: true (every protocol the adapters speak
   * carries tools); set false for a model whose server refuses them.
   */
  @IsOptional() @IsBoolean() supports_tools?: boolean;
  /**
   * The model takes image parts. Unset: true for the `anthropic` and `gemini` protocols (every current Claude and
   * Gemini model reads images), false for `openai`-protocol providers, where it differs by model and by server.
   */
  @IsOptional() @IsBoolean() supports_vision?: boolean;
}

/** The YAML file (`config.yaml` or `CONFIG_FILE`): model registry, pricing, tiers, context management. */
export class FileConfig {
  @IsOptional() @IsString() default_model?: string | null;
  @ValidateNested() @Type(() => LimitsConfig) limits = new LimitsConfig();
  @ValidateNested() @Type(() => RetriesConfig) retries = new RetriesConfig();
  @ValidateNested() @Type(() => AuthConfig) auth = new AuthConfig();
  @ValidateNested() @Type(() => RateLimitsConfig) rate_limits = new RateLimitsConfig();
  @ValidateNested() @Type(() => ContextManagementConfig) context_management = new ContextManagementConfig();
  @ValidateNested() @Type(() => OfflineConfig) offline = new OfflineConfig();
  @ValidateNested() @Type(() => StreamsConfig) streams = new StreamsConfig();
  @ValidateNested() @Type(() => ShutdownConfig) shutdown = new ShutdownConfig();
  @ValidateNested() @Type(() => IdempotencyConfig) idempotency = new IdempotencyConfig();
  @ValidateNested() @Type(() => PromptsConfig) prompts = new PromptsConfig();
  @ValidateNested() @Type(() => FilesConfig) files = new FilesConfig();
  @ValidateNested() @Type(() => HistoryConfig) history = new HistoryConfig();
  @ValidateNested() @Type(() => SearchConfig) search = new SearchConfig();
  @ValidateNested() @Type(() => SharingConfig) sharing = new SharingConfig();
  @ValidateNested() @Type(() => BudgetsConfig) budgets = new BudgetsConfig();
  @ValidateNested() @Type(() => RedisConfig) redis = new RedisConfig();
  @ValidateNested() @Type(() => ToolsConfig) tools = new ToolsConfig();
  @ValidateNested() @Type(() => ImagesConfig) images = new ImagesConfig();
  /** Provider name → provider; converted and validated entry by entry by the loader. */
  @IsObject() providers: Record<string, ProviderConfig> = {};
  @IsArray() @ValidateNested({ each: true }) @Type(() => ModelConfig) models: ModelConfig[] = [];
}
