import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_ID } from '../../common/parse-id.pipe';
import { MaxJsonSize } from '../../common/max-json-size.validator';
import { IsTimestamp } from '../../common/timestamp.validator';
import { PARTS_SCHEMA } from '../../messages/dto/chat-completion.dto';
import { MESSAGE_ROLES, MESSAGE_STATUSES, MessageRole, MessageStatus } from '../../messages/message.entity';
import type { ContentPart } from '../../providers/content-parts';

/** The `format` of an exported session. */
export const EXPORT_FORMAT = 'chat-session';
/** The version of the format this server writes and reads. */
export const EXPORT_VERSION = 1;

/** One message of an exported session: every branch is exported, linked by `parent_id`. */
export class ExportedMessageDto {
  /** The message's id in the exported session (an import gives new ids and keeps the links). */
  @ApiProperty({ type: 'integer' })
  @IsInt() @Min(1) @Max(MAX_ID)
  id: number;

  /** The message it follows; null for a first message. It must come earlier in the list. */
  @ApiProperty({ type: 'integer', nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_ID)
  parent_id: number | null;

  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' })
  @IsIn(MESSAGE_ROLES)
  role: MessageRole;

  /** The text: the text parts joined. */
  @IsString() @MaxLength(1_000_000)
  content: string;

  /** Text, images (user messages) and tool calls (assistant messages), in order. */
  @ApiProperty(PARTS_SCHEMA)
  @IsArray() @ArrayMaxSize(1000) @IsObject({ each: true }) @MaxJsonSize(20 * 1024 * 1024)
  parts: ContentPart[];

  /** `tool` messages: the id of the tool call this is the result of. */
  @ApiProperty({ type: String, nullable: true })
  @IsOptional() @IsString() @MaxLength(128)
  tool_call_id: string | null;

  /** Answers: the registry id of the model that answered. */
  @ApiProperty({ type: String, nullable: true })
  @IsOptional() @IsString() @MaxLength(200)
  model: string | null;

  /** An answer exported while in progress is imported as `incomplete`. */
  @ApiProperty({ enum: MESSAGE_STATUSES, enumName: 'MessageStatus' })
  @IsIn(MESSAGE_STATUSES)
  status: MessageStatus;

  @ApiProperty({ type: String, nullable: true })
  @IsOptional() @IsString() @MaxLength(32)
  finish_reason: string | null;

  @ApiProperty({ type: 'integer' }) @IsInt() @Min(0) @Max(2_000_000_000) tokens_input: number;
  @ApiProperty({ type: 'integer' }) @IsInt() @Min(0) @Max(2_000_000_000) tokens_output: number;
  @ApiProperty({ type: 'integer' }) @IsInt() @Min(0) @Max(2_000_000_000) tokens_cached: number;
  @ApiProperty({ type: 'integer' }) @IsInt() @Min(0) @Max(2_000_000_000) tokens_reasoning: number;
  @IsBoolean() usage_estimated: boolean;
  /** USD. */
  @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1_000_000_000)
  cost: number;
  /** ISO 8601. */
  @ApiProperty({ type: String, format: 'date-time' })
  @IsTimestamp()
  created_at: string;
}

/** The session of an export. */
export class ExportedSessionDto {
  @ApiProperty({ type: String, nullable: true })
  @IsOptional() @IsString() @MaxLength(200)
  title: string | null;

  /** Registry id of the session's model (an import falls back to the server's default model when it is unknown). */
  @IsString() @MaxLength(200)
  model: string;

  @ApiProperty({ type: String, nullable: true })
  @IsOptional() @IsString() @MaxLength(100_000)
  system_prompt: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true })
  @IsOptional() @IsObject() @MaxJsonSize(16 * 1024)
  metadata: Record<string, unknown>;

  /** The newest message of the active branch (one of `messages`); null: the last message. */
  @ApiProperty({ type: 'integer', nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_ID)
  active_leaf_id: number | null;

  /** Totals of the exported session, for information (an import starts its own at zero). */
  @ApiProperty({ type: 'integer', required: false }) @IsOptional() @IsInt() @Min(0) tokens_input?: number;
  @ApiProperty({ type: 'integer', required: false }) @IsOptional() @IsInt() @Min(0) tokens_output?: number;
  /** USD. */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) cost?: number;
  /** ISO 8601. */
  @ApiProperty({ type: String, format: 'date-time', required: false }) @IsOptional() @IsTimestamp() created_at?: string;
  /** ISO 8601. */
  @ApiProperty({ type: String, format: 'date-time', required: false }) @IsOptional() @IsTimestamp() updated_at?: string;
}

/**
 * A session as `GET /v1/chat/sessions/{id}/export?format=json` writes it and `POST /v1/chat/sessions/import` reads
 * it: the session and its whole message tree.
 */
export class SessionExportDto {
  /** Always `chat-session`. */
  @ApiProperty({ enum: [EXPORT_FORMAT] })
  @Equals(EXPORT_FORMAT)
  format: typeof EXPORT_FORMAT;

  /** Format version: 1. */
  @ApiProperty({ type: 'integer', enum: [EXPORT_VERSION] })
  @Equals(EXPORT_VERSION)
  version: typeof EXPORT_VERSION;

  /** When the export was made (ISO 8601). */
  @ApiProperty({ type: String, format: 'date-time', required: false })
  @IsOptional() @IsTimestamp()
  exported_at?: string;

  @ValidateNested() @Type(() => ExportedSessionDto)
  session: ExportedSessionDto;

  /** Every message of every branch, a parent before its children. */
  @IsArray() @ArrayMaxSize(1_000_000) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => ExportedMessageDto)
  messages: ExportedMessageDto[];
}

/** Query of `GET /v1/chat/sessions/{id}/export`. */
export class ExportQueryDto {
  /** `json` (default): the whole tree, to import again; `markdown`: the active branch as a readable document. */
  @ApiProperty({ enum: ['json', 'markdown'], required: false, default: 'json' })
  @IsOptional() @IsIn(['json', 'markdown'])
  format: 'json' | 'markdown' = 'json';
}
