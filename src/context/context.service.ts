import { Inject, Injectable } from '@nestjs/common';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { invalidField } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { FilesService } from '../files/files.service';
import { ContentPart } from '../providers/content-parts';
import { ChatTurn } from '../providers/model-provider';
import { ModelRegistry, RegisteredModel } from '../providers/model-registry';
import { ModelRouter } from '../providers/model-router';
import { BuiltContext, buildContext, CandidateMessage, ContextDocument, MAX_CHARS_PER_TOKEN } from './context-builder';
import { ContextRepository } from './context.repository';
import { ContextContentPartDto, ContextPreviewDto } from './dto/context-preview.dto';
import { PER_MESSAGE_OVERHEAD, tokenCounterFor } from '../providers/tokenizer';

/** A built context plus what the preview reports beyond it. */
export interface SessionContext extends BuiltContext {
  tokenizer: string;
  /** The summary used (summary_window mode), with the last message it covers. */
  summary: { text: string; coversMessageId: number; updatedAt: Date | null } | null;
}

/** A send's context, built for the first model of its route, and the same parts fitted to any other. */
export interface SendContext extends SessionContext {
  /**
   * The same parts (system prompt, summary, documents, messages: nothing is reloaded) fitted to `model`'s window,
   * tokenizer and output reservation, for a fallback. Pure.
   * @throws ContextTooSmallError when the new user message does not fit that model
   */
  refit(model: RegisteredModel): SessionContext;
  /**
   * The stored message the new turn follows: the branch's tip (`tip`, or the session's active leaf), or the
   * tip's question when the tip is an answer still in progress, which the context leaves out; null: none.
   */
  follows: number | null;
}

/** What a context is made of, loaded once and fitted to a model by {@link ContextService.fit}. */
interface ContextParts {
  systemPrompt: string | null;
  summary: SessionContext['summary'];
  documents: ContextDocument[];
  messages: CandidateMessage[];
  olderNotLoaded: number;
  /** A send: the newest message (the user's) must fit. */
  requireNewest: boolean;
  /** See {@link SendContext.follows}. */
  follows: number | null;
}

/**
 * The output reserved for `model`'s answer, which is also the `max_tokens` sent: the request's (capped at the
 * model's maximum, for a fallback that can give less), else min(max output, context window / 4).
 */
export function reservedOutputFor(model: RegisteredModel, maxTokens: number | undefined): number {
  return maxTokens !== undefined
    ? Math.min(maxTokens, model.maxOutputTokens)
    : Math.min(model.maxOutputTokens, Math.floor(model.contextWindow / 4));
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
   * @param models the route's models (after offline substitution): the context is built for the first, and as
   *        much history is loaded as the largest of them could take, for {@link SendContext.refit}
   * @param systemPrompt a `system` message of the request, replacing the session's prompt
   * @param turn the new turn, oldest first; its last message is the user's and is always kept
   * @param maxTokens the request's `max_tokens`
   * @param tip the message the new turn follows (an edited question's or a regenerated answer's parent; null: a
   *        new first message); default the session's active leaf. The history sent is the branch ending there.
   * @throws ContextTooSmallError when the new user message does not fit the first model (nothing is stored yet)
   */
  async forSend(
    session: ChatSessionEntity | null,
    models: readonly RegisteredModel[],
    systemPrompt: string | undefined,
    turn: ChatTurn[],
    maxTokens?: number,
    tip?: number | null,
  ): Promise<SendContext> {
    const parts = await this.load(session, models, systemPrompt, turn, maxTokens, false, tip);
    const [first] = models;
    const built = this.fit(parts, first, maxTokens);
    return { ...built, follows: parts.follows, refit: (model) => (model.id === first.id ? built : this.fit(parts, model, maxTokens)) };
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
    const built = this.fit(await this.load(session, [model], undefined, [], maxTokens, true), model, maxTokens);
    const summarized = built.summary ? await this.repository.countMessagesUpTo(built.summary.coversMessageId) : 0;
    const { budget, tokens, documents, dropped } = built.accounting;
    const summaryTurn = built.turns.find((t) => t.part === 'summary');
    const documentsTurn = built.turns.find((t) => t.part === 'documents');
    return {
      session_id: session.id,
      model: model.id,
      mode: this.config.contextManagement.mode,
      messages: built.turns.map((t) => ({
        part: t.part,
        role: t.role,
        content: t.content,
        parts: t.parts ? t.parts.map(previewPart) : null,
        tool_call_id: t.toolCallId ?? null,
        tokens: t.tokens,
        message_id: t.messageId,
      })),
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

  /**
   * Reads the parts of a context: as many of the newest messages as the largest of `models` could take.
   * @param countDropped count the older messages not loaded (the preview reports them; a send skips the query)
   * @param tip the newest message of the branch read (default: the session's active leaf)
   */
  private async load(
    session: ChatSessionEntity | null,
    models: readonly RegisteredModel[],
    systemPrompt: string | undefined,
    turn: ChatTurn[],
    maxTokens: number | undefined,
    countDropped = false,
    tip?: number | null,
  ): Promise<ContextParts> {
    const cm = this.config.contextManagement;
    const useSummary = cm.mode === 'summary_window' && session?.summary && session.summaryMessageId !== null;
    const summary = useSummary
      ? { text: session.summary!, coversMessageId: session.summaryMessageId!, updatedAt: session.summaryUpdatedAt }
      : null;

    // Every message costs at least one token plus the overhead, so no more than this many can fit.
    const available = Math.max(
      ...models.map((m) => m.contextWindow - reservedOutputFor(m, maxTokens) - cm.safety_margin_tokens),
    );
    const mostThatFit = Math.max(Math.floor(available / (PER_MESSAGE_OVERHEAD + 1)), 0) + 1;
    // Only as much text as the documents budget can take is loaded; the builder cuts it to tokens.
    const documentChars = cm.documents_budget_tokens * MAX_CHARS_PER_TOKEN;
    // Both reads at once: a send waits for one round trip, not two.
    const [stored, documents] = session
      ? await Promise.all([
          this.repository.newestMessages(tip === undefined ? session.activeLeafId : tip, summary?.coversMessageId ?? 0, mostThatFit, countDropped),
          this.files.documentsForContext(session.id, documentChars),
        ])
      : [{ messages: [], olderNotLoaded: 0, follows: null }, []];
    const newTurn: CandidateMessage[] = turn.map((t) => ({ id: null, role: t.role, content: t.content, parts: t.parts, toolCallId: t.toolCallId }));
    return {
      systemPrompt: systemPrompt ?? session?.systemPrompt ?? cm.default_system_prompt,
      summary,
      documents,
      messages: [...stored.messages, ...newTurn],
      olderNotLoaded: stored.olderNotLoaded,
      requireNewest: turn.length > 0,
      follows: stored.follows,
    };
  }

  /**
   * Fits loaded parts to `model`: its window, its tokenizer (images by the rule of its provider's protocol) and the
   * output reserved for it. Pure.
   */
  private fit(parts: ContextParts, model: RegisteredModel, maxTokens: number | undefined): SessionContext {
    const cm = this.config.contextManagement;
    const counter = tokenCounterFor(model, cm.token_estimate_factor);
    const built = buildContext({
      systemPrompt: parts.systemPrompt,
      summary: parts.summary?.text ?? null,
      documents: parts.documents,
      messages: parts.messages,
      olderNotLoaded: parts.olderNotLoaded,
      contextWindow: model.contextWindow,
      reservedOutput: reservedOutputFor(model, maxTokens),
      safetyMargin: cm.safety_margin_tokens,
      documentsBudget: cm.documents_budget_tokens,
      counter,
      requireNewest: parts.requireNewest,
    });
    return { ...built, tokenizer: counter.name, summary: parts.summary };
  }
}

/** A part as the preview shows it: an image by what it is, never its data. */
function previewPart(part: ContentPart): ContextContentPartDto {
  if (part.type !== 'image') return part;
  const { url, ...meta } = part;
  return url.startsWith('data:') ? { ...meta, inline: true } : { ...meta, url, inline: false };
}
