import { ConfigType, registerAs } from '@nestjs/config';
import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OFFLINE_ALIAS, OFFLINE_MODEL_ID } from './builtin-models';
import { EnvironmentVariables } from './environment';
import { FileConfig, ImagesConfig, ModelConfig, ProviderConfig, TierLimitConfig } from './file-config';
import { weakSecretReason } from './secret-strength';
import { ConfigValidationError } from './config-validation-error';

export { ConfigValidationError };

/**
 * The YAML file is strict: a key no setting declares (a typo, or a limit this version doesn't have) stops start-up
 * rather than being silently ignored.
 */
const STRICT = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false };

/**
 * Variables whose values are never printed, even when invalid: secrets, and URLs that may carry a password.
 * Their problem line says how long the value was instead.
 */
const SECRET_VARIABLE = /SECRET|PASSWORD|TOKEN|API_KEY|ACCESS_KEY|_URL$/;

/** Type checks name the real problem; range checks on a value of the wrong type only add noise. */
const TYPE_CONSTRAINTS = ['isInt', 'isNumber', 'isBoolean', 'isString', 'isIn', 'isObject', 'isArray', 'matches'];

/**
 * One line per invalid setting: its path, the most telling failed rule, and the value as written.
 * @param raw where the written values come from (the environment, for variables), else the validated value
 */
function flatten(errors: ValidationError[], prefix = '', raw?: Record<string, unknown>): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const constraints = e.constraints ?? {};
    const key = TYPE_CONSTRAINTS.find((k) => k in constraints) ?? Object.keys(constraints)[0];
    const written: unknown = raw && e.property in raw ? raw[e.property] : e.value;
    if (key === 'whitelistValidation') return [`${path}: unknown key "${e.property}"`];
    const shown =
      raw && SECRET_VARIABLE.test(e.property)
        ? `a value of ${typeof written === 'string' ? written.length : 0} characters, not shown`
        : `got ${JSON.stringify(written)}`;
    const own = key ? [`${path}: ${constraints[key]} (${shown})`] : [];
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

function readYaml(path: string, problems: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = parseYaml(readFileSync(path, 'utf8'));
    if (parsed == null) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`${path}: the top level must be a mapping`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(code === 'ENOENT' ? `${path}: file not found` : `${path}: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}

function toMap<T extends object>(cls: new () => T, raw: unknown): Record<string, T> {
  if (raw == null || typeof raw !== 'object') return {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, plainToInstance(cls, v ?? {})]));
}

/**
 * Reads the environment and the YAML file once and validates both.
 * Environment wins over the file (API.md "Configuration").
 * @param env usually `process.env` (after `.env` was merged into it by @nestjs/config)
 * @returns the typed configuration
 * @throws ConfigValidationError listing every problem, one line each
 */
export function loadAppConfig(env: NodeJS.ProcessEnv = process.env) {
  const problems: string[] = [];
  const vars = plainToInstance(EnvironmentVariables, { ...env }, { excludeExtraneousValues: false });
  problems.push(...flatten(validateSync(vars, { skipMissingProperties: false }), '', env));

  const configPath = resolve(vars.CONFIG_FILE ?? 'config.yaml');
  const explicitFile = vars.CONFIG_FILE !== undefined;
  const raw = explicitFile || fileExists(configPath) ? readYaml(configPath, problems) : {};
  const file = plainToInstance(FileConfig, raw);
  file.rate_limits.tiers = raw.rate_limits ? toMap(TierLimitConfig, (raw.rate_limits as { tiers?: unknown }).tiers) : file.rate_limits.tiers;
  file.providers = toMap(ProviderConfig, raw.providers);
  problems.push(...flatten(validateSync(file, STRICT)).map((p) => `${configPath}: ${p}`));
  // Map values are not reached by @ValidateNested: each provider and tier is checked on its own.
  for (const [name, provider] of Object.entries(file.providers)) {
    problems.push(...flatten(validateSync(provider, STRICT), `providers.${name}`).map((p) => `${configPath}: ${p}`));
  }
  for (const [name, tier] of Object.entries(file.rate_limits.tiers)) {
    const path = `rate_limits.tiers.${name}`;
    problems.push(...flatten(validateSync(tier, STRICT), path).map((p) => `${configPath}: ${p}`));
    for (const pattern of Array.isArray(tier.allowed_models) ? tier.allowed_models : []) {
      if (typeof pattern === 'string' && !pattern.endsWith('*') && !registryNames(file.models).has(pattern.toLowerCase())) {
        problems.push(`${configPath}: ${path}.allowed_models: "${pattern}" is not a model id or alias`);
      }
    }
  }
  problems.push(...registryProblems(file.models).map((p) => `${configPath}: ${p}`));
  const defaultModel = vars.DEFAULT_MODEL ?? file.default_model ?? undefined;
  if (defaultModel && !registryNames(file.models).has(defaultModel.toLowerCase())) {
    problems.push(`DEFAULT_MODEL: "${defaultModel}" is not a model id or alias in ${configPath}`);
  }
  for (const key of ['summary_model', 'title_model'] as const) {
    const name = file.context_management[key];
    if (name && !registryNames(file.models).has(name.toLowerCase())) {
      problems.push(`${configPath}: context_management.${key}: "${name}" is not a model id or alias`);
    }
  }
  if (!file.rate_limits.tiers.free) problems.push(`${configPath}: rate_limits.tiers must define the "free" tier`);

  const production = vars.NODE_ENV === 'production';
  const trustProxy = parseTrustProxy(vars.TRUST_PROXY, problems);
  const corsOrigins = parseCorsOrigins(vars.CORS_ORIGINS, production, problems);
  const { headers_timeout_ms, request_timeout_ms } = file.limits;
  if (Number.isInteger(headers_timeout_ms) && Number.isInteger(request_timeout_ms) && headers_timeout_ms > request_timeout_ms) {
    problems.push(`${configPath}: limits.headers_timeout_ms (${headers_timeout_ms}) must not be greater than limits.request_timeout_ms (${request_timeout_ms})`);
  }
  if (production && !vars.JWT_SECRET) problems.push('JWT_SECRET: required when NODE_ENV=production (at least 32 characters)');
  const weakness = production && vars.JWT_SECRET && vars.JWT_SECRET.length >= 32 ? weakSecretReason(vars.JWT_SECRET) : null;
  if (weakness) problems.push(`JWT_SECRET: too predictable for production: it ${weakness}; use e.g. \`openssl rand -base64 48\``);
  if (production && vars.ALLOW_DB_RESET) problems.push('ALLOW_DB_RESET: must not be true when NODE_ENV=production');
  if ((vars.ADMIN_EMAIL === undefined) !== (vars.ADMIN_PASSWORD === undefined)) {
    problems.push('ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither');
  }
  const s3Vars = [vars.S3_ENDPOINT, vars.S3_BUCKET, vars.S3_ACCESS_KEY_ID, vars.S3_SECRET_ACCESS_KEY];
  if (s3Vars.some((v) => v !== undefined) && s3Vars.some((v) => v === undefined)) {
    problems.push('S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set all four or none');
  }
  const images = imagesOf(file.images, configPath, problems);
  if (problems.length) throw new ConfigValidationError(problems);

  return {
    nodeEnv: (vars.NODE_ENV ?? 'development') as 'development' | 'production' | 'test',
    port: vars.PORT ?? 3000,
    host: vars.HOST ?? '0.0.0.0',
    /** Express `trust proxy`: false, a hop count, or the proxies' addresses/CIDRs (README "Behind a proxy"). */
    trustProxy,
    /** Origins allowed by CORS; `['*']` is any origin (never with credentials). */
    corsOrigins,
    logLevel: vars.LOG_LEVEL ?? (vars.NODE_ENV === 'test' ? 'warn' : 'info'),
    /** `pretty` (one coloured line per entry) on a terminal outside production; JSON lines otherwise. */
    logFormat: (vars.LOG_FORMAT ?? (process.stdout.isTTY && !production ? 'pretty' : 'json')) as 'json' | 'pretty',
    databaseUrl: vars.DATABASE_URL,
    databasePoolSize: vars.DATABASE_POOL_SIZE ?? 20,
    /** Start-up: tries to reach PostgreSQL before giving up (exit 1), and the pause between two tries. */
    databaseConnect: { attempts: vars.DATABASE_CONNECT_ATTEMPTS ?? 10, retryDelayMs: vars.DATABASE_CONNECT_RETRY_MS ?? 3000 },
    dataDir: resolve(vars.DATA_DIR ?? 'data'),
    redisUrl: vars.REDIS_URL,
    /** Timeouts and reconnection of the Redis clients (README "Security"). */
    redis: file.redis,
    jwtSecret: vars.JWT_SECRET,
    defaultModel,
    admin: vars.ADMIN_EMAIL ? { email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD! } : undefined,
    allowDbReset: vars.ALLOW_DB_RESET ?? false,
    limits: {
      ...file.limits,
      max_input_length: vars.MAX_INPUT_LENGTH ?? file.limits.max_input_length,
      max_upload_bytes: vars.MAX_UPLOAD_BYTES ?? file.limits.max_upload_bytes,
    },
    retries: file.retries,
    auth: file.auth,
    rateLimits: file.rate_limits,
    budgets: file.budgets,
    contextManagement: file.context_management,
    offline: file.offline,
    streams: { ...file.streams, key_prefix: vars.STREAMS_KEY_PREFIX ?? file.streams.key_prefix },
    shutdown: file.shutdown,
    idempotency: file.idempotency,
    prompts: file.prompts,
    files: file.files,
    history: file.history,
    /** Full-text search (README "Search"). */
    search: file.search,
    /** Export, import and share links (README "Branches, search, export and share"). */
    sharing: file.sharing,
    /** Function definitions in a request (README "Tools and images"). */
    tools: file.tools,
    /** Image sizes and the SSRF-safe image fetcher (README "Tools and images"). */
    images,
    /** Prometheus metrics (README "Operating it"). */
    metrics: { token: vars.METRICS_TOKEN, port: vars.METRICS_PORT, host: vars.METRICS_HOST ?? '127.0.0.1' },
    /** Where uploaded files' bytes go when set (README "Files (PDF upload)"); unset: PostgreSQL. */
    s3: vars.S3_BUCKET
      ? {
          endpoint: vars.S3_ENDPOINT!,
          bucket: vars.S3_BUCKET,
          accessKeyId: vars.S3_ACCESS_KEY_ID!,
          secretAccessKey: vars.S3_SECRET_ACCESS_KEY!,
          region: vars.S3_REGION ?? 'us-east-1',
        }
      : undefined,
    providers: file.providers,
    models: file.models,
    /** The raw environment, for provider credentials named in the YAML file (`api_key_env`, `base_url_env`). */
    env: { ...env },
  };
}

/**
 * `images`: checks that every `fetch_allowed_networks` entry is a CIDR and reads `fetch_ca_file`.
 * @returns the section, with the CA file's PEM text as `fetch_ca` (undefined when no file is set)
 */
function imagesOf(images: ImagesConfig, configPath: string, problems: string[]): ImagesConfig & { fetch_ca?: string } {
  for (const cidr of Array.isArray(images.fetch_allowed_networks) ? images.fetch_allowed_networks : []) {
    if (typeof cidr === 'string' && !ipaddr.isValidCIDR(cidr)) {
      problems.push(`${configPath}: images.fetch_allowed_networks: "${cidr}" is not a CIDR like 10.1.2.0/24 or fd00::/8`);
    }
  }
  if (typeof images.fetch_ca_file !== 'string') return images;
  try {
    const fetch_ca = readFileSync(resolve(images.fetch_ca_file), 'utf8');
    if (!fetch_ca.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push(`${configPath}: images.fetch_ca_file: ${images.fetch_ca_file} holds no PEM certificate`);
    }
    return { ...images, fetch_ca };
  } catch (err) {
    problems.push(`${configPath}: images.fetch_ca_file: ${images.fetch_ca_file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return images;
  }
}

/** Names Express's `trust proxy` understands for address ranges (proxy-addr's pre-defined subnets). */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `TRUST_PROXY`: unset or `false` (trust no proxy), a hop count (`1`: the one proxy in front; the client is the
 * last address it added to `X-Forwarded-For`), or a comma-separated list of the proxies' addresses and CIDRs
 * (`10.0.0.0/8, 127.0.0.1`, or `loopback`, `linklocal`, `uniquelocal`). `true` is refused: it trusts every hop, so
 * the client itself picks the address rate limits are keyed by (Express "trust proxy" documentation).
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  const value = raw?.trim().toLowerCase();
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true') {
    problems.push(
      'TRUST_PROXY: true trusts every X-Forwarded-For entry, so any client could choose its own rate-limit address; ' +
        'set the number of proxies in front (e.g. 1) or their addresses/CIDRs',
    );
    return false;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.filter((e) => !PROXY_RANGE_NAMES.includes(e) && !isAddressOrCidr(e));
  if (bad.length || !entries.length) {
    problems.push(`TRUST_PROXY: expected false, a hop count or addresses/CIDRs, got ${JSON.stringify(raw)}`);
    return false;
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * `CORS_ORIGINS`: comma-separated origins (`https://app.example.com`) allowed to call the API from a browser.
 * Unset: any origin outside production, none in production. `*` is refused in production: the API is meant for
 * bearer tokens, and a production deployment should name the web apps that may use them.
 */
function parseCorsOrigins(raw: string | undefined, production: boolean, problems: string[]): string[] {
  if (raw === undefined) return production ? [] : ['*'];
  const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
  if (origins.includes('*')) {
    if (production) problems.push('CORS_ORIGINS: * (any origin) is not allowed when NODE_ENV=production; list the origins');
    return ['*'];
  }
  for (const origin of origins) {
    let parsed: string | undefined;
    try {
      parsed = new URL(origin).origin;
    } catch {
      parsed = undefined;
    }
    if (parsed !== origin) problems.push(`CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com`);
  }
  return origins;
}

function fileExists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every id and alias the registry answers to, lower-cased, the built-in offline model included. */
function registryNames(models: ModelConfig[]): Set<string> {
  const names = models.flatMap((m) => [m.id, ...(m.aliases ?? [])]);
  return new Set([...names, OFFLINE_MODEL_ID, OFFLINE_ALIAS].map((n) => n.toLowerCase()));
}

function registryProblems(models: ModelConfig[]): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const m of models) {
    for (const name of [m.id, ...(m.aliases ?? [])]) {
      const owner = seen.get(name);
      if (owner) problems.push(`models: "${name}" names both ${owner} and ${m.id}`);
      seen.set(name, m.id);
    }
  }
  const names = registryNames(models);
  for (const m of models) {
    const own = new Set([m.id, ...(m.aliases ?? [])].map((n) => n.toLowerCase()));
    for (const fallback of Array.isArray(m.fallbacks) ? m.fallbacks : []) {
      if (typeof fallback !== 'string') continue; // the type check has already said so
      if (!names.has(fallback.toLowerCase())) problems.push(`models: ${m.id} falls back to "${fallback}", which is not a model id or alias`);
      else if (own.has(fallback.toLowerCase())) problems.push(`models: ${m.id} lists itself ("${fallback}") as a fallback`);
    }
  }
  return problems;
}

/** The `app` configuration namespace, injected with `@Inject(appConfig.KEY)`. */
export const appConfig = registerAs('app', () => loadAppConfig(process.env));
export type AppConfig = ConfigType<typeof appConfig>;
