import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { MAX_ID } from '../../common/parse-id.pipe';
import { NullClears } from '../../common/nullable';
import { MaxJsonSize } from '../../common/max-json-size.validator';
import { TemplateVariables } from '../../prompts/dto/prompt-input.dto';
import { toBool } from '../../common/boolean-transform';

/** Body of `POST /v1/chat/sessions`. */
export class CreateSessionDto {
  /** A title; untitled sessions get one from their first exchange. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200)
  title?: string;

  /** Registry id or alias (`openai/gpt-4o-mini`, `gpt-4`, `fast`); default: the server's default model. */
  @IsOptional() @IsString() @MaxLength(200)
  model?: string;

  /** Instructions sent first on every call to the model. Not together with `prompt_id` (400). */
  @IsOptional() @IsString() @MaxLength(20_000)
  system_prompt?: string;

  /**
   * Start from a prompt (mine or a system template): its content rendered with `variables` becomes the session's
   * system prompt; the session records `prompt_id` and `prompt_version`, and the prompt's `usage_count` rises.
   */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_ID)
  prompt_id?: number;

  /** Values for the prompt's `{placeholders}` (strings, numbers or booleans); only with `prompt_id`. */
  @IsOptional() @IsObject()
  variables?: TemplateVariables;

  /** Free-form JSON object (at most 16 KiB serialised) kept with the session. */
  @IsOptional() @IsObject() @MaxJsonSize(16_384)
  metadata?: Record<string, unknown>;
}

/** Body of `PATCH /v1/chat/sessions/{id}`: only these fields can change. */
export class UpdateSessionDto {
  @IsOptional() @IsString() @MinLength(1) @MaxLength(200)
  title?: string;

  /** New system prompt; `null` removes it. */
  @NullClears() @IsString() @MaxLength(20_000)
  system_prompt?: string | null;

  /** Replaces the metadata object (`null` is refused: send `{}` to empty it). */
  @ValidateIf((_, v) => v !== undefined) @IsObject() @MaxJsonSize(16_384)
  metadata?: Record<string, unknown>;
}

/** Query of `DELETE /v1/chat/sessions/{id}`. */
export class DeleteSessionQueryDto {
  /** `true`: archive instead of deleting (as documented); restore with `POST /v1/chat/sessions/{id}/restore`. */
  @IsOptional() @Transform(toBool) @IsBoolean()
  soft?: boolean;
}

/** Body of the API guide's `POST /v1/chat/switch-model`. */
export class SwitchModelDto {
  @IsInt() @Min(1) @Max(MAX_ID)
  session_id: number;

  /** Registry id or alias of the new model. */
  @IsString() @MinLength(1) @MaxLength(200)
  model: string;
}
