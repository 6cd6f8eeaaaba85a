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
import { NullClears } from '../../common/nullable';
import { MaxJsonSize } from '../../common/max-json-size.validator';
import { PageQueryDto } from '../../common/pagination.dto';
import { MAX_ID } from '../../common/parse-id.pipe';
import { toBool } from '../../common/boolean-transform';

/**
 * Hard ceiling on a content field before the configured limit (`prompts.max_content_length`) is checked by the
 * service, so an absurd body is refused by validation alone.
 */
const CONTENT_CEILING = 1_000_000;

/**
 * Values for a template's `{placeholders}`, by name. Strings, numbers and booleans (written as JSON would print
 * them); unused names are ignored.
 */
export type TemplateVariables = Record<string, string | number | boolean>;

/** Body of the API guide's `POST /api/chat/prompts`. `is_template`, `usage_count`, `user_id` are not accepted (422). */
export class CreatePromptDto {
  @IsString() @MinLength(1) @MaxLength(200)
  title: string;

  /** The template text: `{name}` placeholders, `{{` and `}}` for literal braces. */
  @IsString() @MinLength(1) @MaxLength(CONTENT_CEILING)
  content: string;

  /** A free label to group prompts by (`summarization`, `translation`…); filter with `?scenario=`. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(100)
  scenario?: string;

  @IsOptional() @IsString() @MaxLength(2000)
  description?: string;

  /** Free-form JSON object (at most 16 KiB serialised), e.g. `{"tags": ["summary"]}`. */
  @IsOptional() @IsObject() @MaxJsonSize(16_384)
  metadata?: Record<string, unknown>;
}

/**
 * Body of the API guide's `PUT /api/chat/prompts/{prompt_id}`: any create field; the others stay. A changed title or
 * content keeps the previous pair as a version and raises `version`. `scenario` and `description` take `null`
 * to clear them.
 */
export class UpdatePromptDto {
  @ValidateIf((_, v) => v !== undefined) @IsString() @MinLength(1) @MaxLength(200)
  title?: string;

  @ValidateIf((_, v) => v !== undefined) @IsString() @MinLength(1) @MaxLength(CONTENT_CEILING)
  content?: string;

  @NullClears() @IsString() @MinLength(1) @MaxLength(100)
  scenario?: string | null;

  @NullClears() @IsString() @MaxLength(2000)
  description?: string | null;

  /** Replaces the metadata object (`null` is refused: send `{}` to empty it). */
  @ValidateIf((_, v) => v !== undefined) @IsObject() @MaxJsonSize(16_384)
  metadata?: Record<string, unknown>;
}

/** Query of the API guide's `GET /api/chat/prompts`. */
export class ListPromptsQueryDto extends PageQueryDto {
  /** Only prompts with exactly this scenario. */
  @IsOptional() @IsString() @MaxLength(100)
  scenario?: string;

  /** Include the system templates (default `true`, as documented); `false`: only my own prompts. */
  @IsOptional() @Transform(toBool) @IsBoolean()
  include_templates?: boolean;

  /**
   * Search title, description and content (full-text, best matches first). Plain words match as word prefixes,
   * all required; `"exact phrase"`, `or` and `-word` work as in web search engines; a term shorter than 3
   * characters matches as a substring. Empty or blank (a cleared search box): no filter.
   */
  @IsOptional() @IsString() @MaxLength(200)
  search?: string;
}

/** Body of the API guide's `POST /api/chat/prompts/preview`: `prompt_id` or `content` (one of them), and `variables`. */
export class PreviewPromptDto {
  /** A prompt of mine or a system template. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_ID)
  prompt_id?: number;

  /** Ad-hoc template text, instead of `prompt_id`. */
  @IsOptional() @IsString() @MinLength(1) @MaxLength(CONTENT_CEILING)
  content?: string;

  /** Values for the placeholders; every placeholder needs one (422 lists the missing), extra ones are ignored. */
  @IsOptional() @IsObject()
  variables?: TemplateVariables;

  /** Registry id or alias of the model to run; default: the server's default model. */
  @IsOptional() @IsString() @MaxLength(200)
  model?: string;

  /**
   * `true`: only render, call no model. `preview` is the rendered text, `tokens_used` its token count
   * (tokenizer estimate), `model_used` null.
   */
  @IsOptional() @IsBoolean()
  dry_run?: boolean;
}
