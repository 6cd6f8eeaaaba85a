import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { toInt } from '../../common/integer-transform';
import { CONTEXT_MODES } from '../../config/file-config';

/** Query of `GET /v1/chat/sessions/{id}/context`. */
export class ContextPreviewQueryDto {
  /** The `max_tokens` the next send will ask for (output reserved out of the context window); default as a send without it. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  max_tokens?: number;
}

/** One turn the model is sent, in order. */
export class ContextMessageDto {
  /** `system` (system prompt), `summary` (the rolling summary), `documents` (the session's files) or `message`. */
  @ApiProperty({ enum: ['system', 'summary', 'documents', 'message'], enumName: 'ContextPart' }) part: string;
  @ApiProperty({ enum: ['system', 'user', 'assistant'], enumName: 'MessageRole' }) role: string;
  content: string;
  /** Tokens of the content plus the per-message overhead (4). */
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
  /** Oldest messages left out because they did not fit (whole messages, never cut). */
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
