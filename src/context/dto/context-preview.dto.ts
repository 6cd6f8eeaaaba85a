import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { toInt } from '../../common/integer-transform';
import { CONTEXT_MODES } from '../../config/file-config';
import { MESSAGE_ROLES } from '../../messages/message.entity';
import { IMAGE_MEDIA_TYPES } from '../../providers/content-parts';

/** Query of `GET /v1/chat/sessions/{id}/context`. */
export class ContextPreviewQueryDto {
  /** The `max_tokens` the next send will ask for (output reserved out of the context window); default as a send without it. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  max_tokens?: number;
}

/**
 * One part of a turn that holds more than text: a text part, an image (what it is, never its data), or a tool call
 * the model made.
 */
export class ContextContentPartDto {
  @ApiProperty({ enum: ['text', 'image', 'tool_call'], enumName: 'ContextContentPartType' }) type: string;
  /** `text` parts: the text. */
  text?: string;
  /** Images: the `https:` URL; absent for an image sent inline (a `data:` URL), whose data is not shown. */
  url?: string;
  /** Images: true when sent inline (a `data:` URL), false for an `https:` URL. */
  inline?: boolean;
  /** Images: the type, once the server has checked the image. */
  @ApiProperty({ enum: IMAGE_MEDIA_TYPES, required: false }) media_type?: string;
  /** Images: pixels, when known. */
  @ApiProperty({ type: 'integer', required: false }) width?: number;
  /** Images: pixels, when known. */
  @ApiProperty({ type: 'integer', required: false }) height?: number;
  /** Images: size of the image file, when known. */
  @ApiProperty({ type: 'integer', required: false }) bytes?: number;
  /** Images: OpenAI's image detail, when sent. */
  @ApiProperty({ enum: ['auto', 'low', 'high'], required: false }) detail?: string;
  /** Tool calls: the call's id (a `tool` turn's `tool_call_id` names it). */
  id?: string;
  /** Tool calls: the function's name. */
  name?: string;
  /** Tool calls: the arguments as JSON text. */
  arguments?: string;
}

/** One turn the model is sent, in order. */
export class ContextMessageDto {
  /** `system` (system prompt), `summary` (the rolling summary), `documents` (the session's files) or `message`. */
  @ApiProperty({ enum: ['system', 'summary', 'documents', 'message'], enumName: 'ContextPart' }) part: string;
  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' }) role: string;
  /** The turn's text (its text parts joined). */
  content: string;
  /**
   * The turn's parts in order, when it holds more than text (images, tool calls); null when `content` is all of it.
   * A tool call that no result answers is not sent, so not listed.
   */
  @ApiProperty({ type: [ContextContentPartDto], nullable: true }) parts: ContextContentPartDto[] | null;
  /** `tool` turns: the id of the tool call whose result this is; else null. */
  @ApiProperty({ type: String, nullable: true }) tool_call_id: string | null;
  /** Tokens of the content, its images and tool calls, plus the per-message overhead (4). */
  @ApiProperty({ type: 'integer' }) tokens: number;
  /** The stored message's id (part `message`), else null. */
  @ApiProperty({ type: 'integer', nullable: true }) message_id: number | null;
}

/** The rolling summary (summary_window mode). */
export class ContextSummaryDto {
  text: string;
  /** Tokens of its turn. */
  @ApiProperty({ type: 'integer' }) tokens: number;
  /** The last message the summary covers; later messages are sent verbatim. */
  @ApiProperty({ type: 'integer' }) covers_message_id: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) updated_at: string | null;
}

/** One document of the documents block. */
export class ContextDocumentDto {
  name: string;
  /** Tokens of its `<document>` element. */
  @ApiProperty({ type: 'integer' }) tokens: number;
  /** Cut at the documents budget (it ends with a `[truncated]` line). */
  truncated: boolean;
}

/** The session's documents, sent as one user-role turn. */
export class ContextDocumentsDto {
  /** Tokens of the block's turn. */
  @ApiProperty({ type: 'integer' }) tokens: number;
  /** `context_management.documents_budget_tokens`. */
  @ApiProperty({ type: 'integer' }) budget_tokens: number;
  items: ContextDocumentDto[];
}

/** How the context window is shared. */
export class ContextBudgetDto {
  @ApiProperty({ type: 'integer' }) context_window: number;
  /** Tokens reserved for the answer: `max_tokens`, else min(max_output_tokens, context_window / 4). */
  @ApiProperty({ type: 'integer' }) reserved_output: number;
  /** `context_management.safety_margin_tokens`. */
  @ApiProperty({ type: 'integer' }) safety_margin: number;
  /** What the prompt may use: context_window − reserved_output − safety_margin. */
  @ApiProperty({ type: 'integer' }) available: number;
  /** How tokens are counted: `o200k_base`, or an estimate for families whose tokenizer isn't shipped. */
  tokenizer: string;
}

/** Tokens per part, each including its per-message overhead. */
export class ContextTokensDto {
  @ApiProperty({ type: 'integer' }) system: number;
  @ApiProperty({ type: 'integer' }) summary: number;
  @ApiProperty({ type: 'integer' }) documents: number;
  @ApiProperty({ type: 'integer' }) messages: number;
  @ApiProperty({ type: 'integer' }) total: number;
}

/** What is not sent. */
export class ContextDroppedDto {
  /**
   * Oldest messages left out because they did not fit (whole messages with their images, never cut; a tool call
   * and its results together), and tool results whose call is not sent.
   */
  @ApiProperty({ type: 'integer' }) messages: number;
  /** Messages covered by the summary instead of being sent verbatim. */
  @ApiProperty({ type: 'integer' }) summarized_messages: number;
  /** Documents left out entirely: the documents budget was spent before them. */
  documents: string[];
}

/**
 * `GET /v1/chat/sessions/{id}/context`: exactly what the next send gives the model before the new turn, which
 * is appended after `messages` (a long new message can push out more of the oldest ones).
 */
export class ContextPreviewDto {
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** Registry id of the model that would answer (the offline model in offline mode). */
  model: string;
  @ApiProperty({ enum: CONTEXT_MODES, enumName: 'ContextMode' }) mode: string;
  /** The turns, in the order the model gets them. */
  messages: ContextMessageDto[];
  @ApiProperty({ type: ContextSummaryDto, nullable: true }) summary: ContextSummaryDto | null;
  @ApiProperty({ type: ContextDocumentsDto, nullable: true }) documents: ContextDocumentsDto | null;
  tokens: ContextTokensDto;
  budget: ContextBudgetDto;
  dropped: ContextDroppedDto;
}
