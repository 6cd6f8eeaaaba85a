import { ApiProperty } from '@nestjs/swagger';

/** `GET /health`: the process is up. */
export class LivenessDto {
  /** Always `ok`. */
  status: string;
}

/** State of each dependency. */
export class ReadinessChecksDto {
  @ApiProperty({ enum: ['up', 'down'] }) database: 'up' | 'down';
  @ApiProperty({ enum: ['up', 'down', 'not_configured'] }) redis: 'up' | 'down' | 'not_configured';
}

/** `GET /health/ready`: 200 when every configured dependency answers, else 503 with the same body. */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'unavailable'] }) status: 'ok' | 'unavailable';
  checks: ReadinessChecksDto;
}

/** Limits of one tier, per window; null: unlimited. */
export class TierLimitsDto {
  @ApiProperty({ type: 'integer', nullable: true }) requests: number | null;
  @ApiProperty({ type: 'integer', nullable: true }) sends: number | null;
}

export class RateLimitsDto {
  @ApiProperty({ type: 'integer' }) window_seconds: number;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/TierLimitsDto' } })
  tiers: Record<string, TierLimitsDto>;
}

/** The context-management settings. */
export class ContextManagementDto {
  @ApiProperty({ enum: ['full', 'summary_window'] }) mode: string;
  @ApiProperty({ type: 'integer' }) window_size: number;
  @ApiProperty({ type: 'integer' }) summarize_after_messages: number;
  @ApiProperty({ type: 'integer' }) summary_update_interval: number;
}

/** `GET /config`: settings a client may know (no secrets). */
export class PublicConfigDto {
  default_model: string;
  /** True when no provider is configured and the offline model answers everything. */
  offline_mode: boolean;
  @ApiProperty({ type: 'integer' }) max_input_length: number;
  @ApiProperty({ type: 'integer' }) max_upload_bytes: number;
  rate_limits: RateLimitsDto;
  context_management: ContextManagementDto;
}

/** `GET /`: what this service is and where to go next. */
export class ServiceInfoDto {
  name: string;
  version: string;
  docs: string;
  openapi: string;
  health: string;
}
