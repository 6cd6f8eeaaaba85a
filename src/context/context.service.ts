import { Inject, Injectable } from '@nestjs/common';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { invalidField } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { FilesService } from '../files/files.service';
import { ChatTurn } from '../providers/model-provider';
import { ModelRegistry, RegisteredModel } from '../providers/model-registry';
import { ModelRouter } from '../providers/model-router';
import { BuiltContext, buildContext, CandidateMessage, MAX_CHARS_PER_TOKEN } from './context-builder';
import { ContextRepository } from './context.repository';
import { ContextPreviewDto } from './dto/context-preview.dto';
import { PER_MESSAGE_OVERHEAD, tokenCounterFor } from './token-counter';

/** A built context plus what the preview reports beyond it. */
export interface SessionContext extends BuiltContext {
  tokenizer: string;
  /** The summary used (summary_window mode), with the last message it covers. */
  summary: { text: string; coversMessageId: number; updatedAt: Date | null } | null;
}

/**
 * Loads what a session's context is made of (system prompt, summary, documents, stored messages) and has
 * {@link buildContext} fit it to the answering model's window. Used by every send and by the context preview,
 * so the preview is exactly what is sent.
 */
@Injectable()
export class ContextService {
  constructor(
    private readonly repository: ContextRepository,
    private readonly chats: ChatsService,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly files: FilesService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * The context of a send: the session's (or a new session's) context followed by the new turn.
   * @param session the existing session, or null for a new one
   * @param model the model that will answer (after offline substitution)
   * @param systemPrompt a `system` message of the request, replacing the session's prompt
   * @param turn the new turn, oldest first; its last message is the user's and is always kept
   * @param maxTokens the request's `max_tokens`
   * @throws ProblemException 422 when the new user message does not fit (nothing has been stored yet)
   */
  forSend(
    session: ChatSessionEntity | null,
    model: RegisteredModel,
    systemPrompt: string | undefined,
    turn: ChatTurn[],
    maxTokens?: number,
  ): Promise<SessionContext> {
    return this.assemble(session, model, systemPrompt, turn, maxTokens);
  }

  /**
   * `GET /v1/chat/sessions/{id}/context`: what the next send to this session gives its model, before the new turn.
   * @throws 404 not the caller's session, 422 `max_tokens` above the model's limit, 503 model not configured
   */
  async preview(user: AuthenticatedUser, sessionId: number, maxTokens?: number): Promise<ContextPreviewDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const { model } = this.router.route(this.registry.resolve(session.model)); // as a send picks it
    if (maxTokens !== undefined && maxTokens > model.maxOutputTokens) {
      throw invalidField('max_tokens', `must not exceed ${model.maxOutputTokens} for ${model.id}`);
    }
    const built = await this.assemble(session, model, undefined, [], maxTokens);
    const summarized = built.summary ? await this.repository.countMessagesUpTo(session.id, built.summary.coversMessageId) : 0;
    const { budget, tokens, documents, dropped } = built.accounting;
    const summaryTurn = built.turns.find((t) => t.part === 'summary');
    const documentsTurn = built.turns.find((t) => t.part === 'documents');
    return {
      session_id: session.id,
      model: model.id,
      mode: this.config.contextManagement.mode,
      messages: built.turns.map((t) => ({ part: t.part, role: t.role, content: t.content, tokens: t.tokens, message_id: t.messageId })),
      summary:
        built.summary && summaryTurn
          ? {
              text: built.summary.text,
              tokens: summaryTurn.tokens,
              covers_message_id: built.summary.coversMessageId,
              updated_at: built.summary.updatedAt?.toISOString() ?? null,
            }
          : null,
      documents: documentsTurn
        ? { tokens: documentsTurn.tokens, budget_tokens: this.config.contextManagement.documents_budget_tokens, items: documents }
        : null,
      tokens,
      budget: {
        context_window: budget.contextWindow,
        reserved_output: budget.reservedOutput,
        safety_margin: budget.safetyMargin,
        available: budget.available,
        tokenizer: built.tokenizer,
      },
      dropped: { messages: dropped.messages, summarized_messages: summarized, documents: dropped.documents },
    };
  }

  private async assemble(
    session: ChatSessionEntity | null,
    model: RegisteredModel,
    systemPrompt: string | undefined,
    turn: ChatTurn[],
    maxTokens: number | undefined,
  ): Promise<SessionContext> {
    const cm = this.config.contextManagement;
    const counter = tokenCounterFor(model, cm.token_estimate_factor);
    const reservedOutput = maxTokens ?? Math.min(model.maxOutputTokens, Math.floor(model.contextWindow / 4));
    const available = model.contextWindow - reservedOutput - cm.safety_margin_tokens;
    const useSummary = cm.mode === 'summary_window' && session?.summary && session.summaryMessageId !== null;
    const summary = useSummary
      ? { text: session.summary!, coversMessageId: session.summaryMessageId!, updatedAt: session.summaryUpdatedAt }
      : null;

    // Every message costs at least one token plus the overhead, so no more than this many can fit.
    const mostThatFit = Math.max(Math.floor(available / (PER_MESSAGE_OVERHEAD + 1)), 0) + 1;
    const stored = session
      ? await this.repository.newestMessages(session.id, summary?.coversMessageId ?? 0, mostThatFit)
      : { messages: [], total: 0 };
    const newTurn: CandidateMessage[] = turn.map((t) => ({ id: null, role: t.role, content: t.content }));
    // Only as much text as the documents budget can take is loaded; the builder cuts it to tokens.
    const documentChars = cm.documents_budget_tokens * MAX_CHARS_PER_TOKEN;
    const documents = session ? await this.files.documentsForContext(session.id, documentChars) : [];

    const built = buildContext({
      systemPrompt: systemPrompt ?? session?.systemPrompt ?? cm.default_system_prompt,
      summary: summary?.text ?? null,
      documents,
      messages: [...stored.messages, ...newTurn],
      olderNotLoaded: stored.total - stored.messages.length,
      contextWindow: model.contextWindow,
      reservedOutput,
      safetyMargin: cm.safety_margin_tokens,
      documentsBudget: cm.documents_budget_tokens,
      counter,
      requireNewest: turn.length > 0,
    });
    return { ...built, tokenizer: counter.name, summary };
  }
}
