import { ApiProperty } from '@nestjs/swagger';
import { PageMetaDto } from '../../common/pagination.dto';
import { templateVariables } from '../prompt-template';
import { PromptVersionEntity } from '../prompt-version.entity';
import { PromptEntity } from '../prompt.entity';

/** A prompt as the API guide shows it, plus `user_id`, `variables` and `version`. */
export class PromptDto {
  @ApiProperty({ type: 'integer' }) id: number;
  /** The owner; null for system templates. */
  @ApiProperty({ type: 'integer', nullable: true }) user_id: number | null;
  title: string;
  /** The template text with its `{placeholders}`. */
  content: string;
  @ApiProperty({ type: String, nullable: true }) scenario: string | null;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  /** A system template: visible to everyone, changed only by admins. */
  is_template: boolean;
  /** Previews and sessions started from this prompt. */
  @ApiProperty({ type: 'integer' }) usage_count: number;
  /** The placeholder names found in `content`, in order of first appearance. */
  variables: string[];
  /** Current version, from 1; raised by each update that changes title or content. */
  @ApiProperty({ type: 'integer' }) version: number;
  created_at: string;
  updated_at: string;

  static from(p: PromptEntity): PromptDto {
    return {
      id: p.id,
      user_id: p.userId,
      title: p.title,
      content: p.content,
      scenario: p.scenario,
      description: p.description,
      metadata: p.metadata,
      is_template: p.isTemplate,
      usage_count: p.usageCount,
      variables: templateVariables(p.content),
      version: p.version,
      created_at: p.createdAt.toISOString(),
      updated_at: p.updatedAt.toISOString(),
    };
  }
}

/** The API guide's prompt listing: `{ items, total, page, page_size }`. */
export class PromptPageDto extends PageMetaDto {
  items: PromptDto[];
}

/** An earlier title and content of a prompt, kept when an update replaced them. */
export class PromptVersionDto {
  @ApiProperty({ type: 'integer' }) prompt_id: number;
  @ApiProperty({ type: 'integer' }) version: number;
  title: string;
  content: string;
  /** When this version was replaced by the next one. */
  created_at: string;

  static from(v: PromptVersionEntity): PromptVersionDto {
    return {
      prompt_id: v.promptId,
      version: v.version,
      title: v.title,
      content: v.content,
      created_at: v.createdAt.toISOString(),
    };
  }
}

/** A page of a prompt's earlier versions, newest first. */
export class PromptVersionPageDto extends PageMetaDto {
  items: PromptVersionDto[];
}

/** The API guide's preview answer. */
export class PromptPreviewDto {
  /** The model's answer to the rendered prompt; with `dry_run`, the rendered prompt itself. */
  preview: string;
  /** Input plus output tokens of the model call; with `dry_run`, the rendered prompt's token count. */
  @ApiProperty({ type: 'integer' }) tokens_used: number;
  /** Registry id of the model that answered (`offline/echo` in offline mode); null with `dry_run`. */
  @ApiProperty({ type: String, nullable: true }) model_used: string | null;
}

/** `{ "message": "Prompt deleted successfully" }` (as documented). */
export class PromptDeletedDto {
  message: string;
}
