import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';

const toBool = ({ value }: { value: unknown }) =>
  value === undefined || value === ''
    ? undefined
    : (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') &&
      ['1', 'true', 'yes', 'on'].includes(String(value).toLowerCase());
const toInt = ({ value }: { value: unknown }) => (value === undefined || value === '' ? undefined : Number(value));
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * The environment variables the service reads (README "Configuration"; API.md "Configuration").
 * Validated once at boot by {@link loadAppConfig}; every variable is optional outside production.
 */
export class EnvironmentVariables {
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @Transform(emptyToUndefined) @IsString() HOST?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() DATABASE_URL?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(200) DATABASE_POOL_SIZE?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1000) DATABASE_CONNECT_ATTEMPTS?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(600_000) DATABASE_CONNECT_RETRY_MS?: number;
  @IsOptional() @Transform(emptyToUndefined) @IsString() DATA_DIR?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_URL?: string;
  /** Prefix of the Redis keys of answers' event logs and stop requests (instances sharing them use the same). */
  @IsOptional() @Transform(emptyToUndefined) @IsString() STREAMS_KEY_PREFIX?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() DEFAULT_MODEL?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000) MAX_INPUT_LENGTH?: number;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_073_741_824) MAX_UPLOAD_BYTES?: number;
  @IsOptional() @Transform(emptyToUndefined) @IsString() CONFIG_FILE?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() ADMIN_EMAIL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(8) ADMIN_PASSWORD?: string;
  @IsOptional() @Transform(toBool) @IsBoolean() ALLOW_DB_RESET?: boolean;
  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL?: string;
  @IsOptional() @IsIn(['json', 'pretty']) LOG_FORMAT?: string;
  /** Hop count or list of proxy addresses/CIDRs (Express `trust proxy`); parsed by the loader, which refuses `true`. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() TRUST_PROXY?: string;
  /** Origins allowed to call the API from a browser, comma-separated; `*` (any) only outside production. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() CORS_ORIGINS?: string;
  /** Bearer token that unlocks `GET /metrics` on the API port (unset: 404 there). */
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters' })
  METRICS_TOKEN?: string;
  /** A private listener serving `GET /metrics` without auth (unset: none). */
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) METRICS_PORT?: number;
  @IsOptional() @Transform(emptyToUndefined) @IsString() METRICS_HOST?: string;
  /** An S3-compatible object store for uploaded files (path-style URLs); unset: the bytes stay in PostgreSQL. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_ENDPOINT?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_BUCKET?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_ACCESS_KEY_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_SECRET_ACCESS_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_REGION?: string;
}
