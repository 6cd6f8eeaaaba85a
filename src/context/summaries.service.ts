import { BudgetError } from '../budgets/budget-errors';
import { BudgetReservation, BudgetsService } from '../budgets/budgets.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ChatSessionsRepository } from '../chats/chat-sessions.repository';
import { ChatsService } from '../chats/chats.service';
import { BackgroundWork } from '../common/background-work';
import { AppConfig, appConfig } from '../config/app-config';
import { toolCallsOf } from '../providers/content-parts';
import { ChatTurn } from '../providers/model-provider';
import { ModelRegistry, OFFLINE_PROVIDER } from '../providers/model-registry';
import { ModelRouter } from '../providers/model-router';
import { CandidateMessage } from './context-builder';
import { ContextRepository } from './context.repository';
import { tokenCounterFor } from '../providers/tokenizer';

/** The summary model's instruction. */
export const SUMMARY_INSTRUCTION =
  'You maintain a running summary of a conversation between a user and an assistant. Rewrite the previous ' +
  'summary so that it also covers the new messages. Keep names, facts, numbers, decisions, preferences and open ' +
  'questions; drop small talk. Write plain prose in the conversation\'s language. Answer with the summary only.';

/**
 * The `summary_window` context mode: a rolling summary of the messages older than the verbatim window, written by
 * the summary model (`context_management.summary_model`, default the session's own) in the background after an
 * answer has been stored, so no stream waits for it.
 *
 * Schedule: once a session holds `summarize_after_messages` messages, the messages outside the newest
 * `window_size` pairs are folded into the summary; after that, each time another `summary_update_interval`
 * messages have left the window. The summary records the last message it covers (`summary_message_id`); every
 * later message is sent verbatim, so nothing is lost between updates. A failed summary keeps the previous one and
 * is logged; the next answer tries again. The offline model writes no summaries (it only echoes), so its sessions
 * are sent as in `full` mode.
 */
@Injectable()
export class SummariesService implements OnModuleDestroy {
  private readonly logger = new Logger(SummariesService.name);
  private readonly work = new BackgroundWork(this.logger);

  constructor(
    private readonly repository: ContextRepository,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly chats: ChatsService,
    private readonly sessions: ChatSessionsRepository,
    private readonly budgets: BudgetsService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * Called once an answer is stored: starts a summary update in the background when one is due.
   * @param session the session after the answer (its `messageCount` counts every stored message)
   */
  afterAnswer(session: { id: number; userId: number; messageCount: number }, user: Pick<AuthenticatedUser, 'id' | 'tier' | 'applicationId' | 'limits'>): void {
    const cm = this.config.contextManagement;
    if (cm.mode !== 'summary_window' || session.messageCount < cm.summarize_after_messages) return;
    this.work.start(`summary:${session.id}`, `Summary of session ${session.id}`, (signal) => this.update(session, user, signal));
  }

  /** Resolves when no summary is being written (shutdown waits for this; so can a caller that needs the result). */
  whenIdle(): Promise<void> {
    return this.work.idle();
  }

  onModuleDestroy(): Promise<void> {
    return this.work.stop();
  }

  /**
   * Folds the messages that left the window into the summary, when enough have; the call's usage goes to the
   * session's and the user's totals and the ledger (purpose `summary`). The call is reserved against the budgets of
   * `user` (who sent the answer) first; one that does not fit is not made (the summary waits for a later answer).
   */
  private async update(
    { id: sessionId, userId }: { id: number; userId: number },
    user: Pick<AuthenticatedUser, 'id' | 'tier' | 'applicationId' | 'limits'>,
    signal: AbortSignal,
  ): Promise<void> {
    const cm = this.config.contextManagement;
    const state = await this.repository.summaryState(sessionId);
    if (!state) return; // deleted meanwhile
    const outside = await this.repository.messagesOutsideWindow(sessionId, state.summaryMessageId ?? 0, 2 * cm.window_size);
    if (outside.length < (state.summary ? cm.summary_update_interval : 1)) return;
    // A summary never ends inside a tool exchange: a result sent without its call would be dropped from contexts.
    const whole = outside.slice(0, exchangeEnd(outside)).map((m) => ({ ...m, content: summaryText(m) }));
    if (!whole.length) return;

    const route = this.router.route(this.registry.resolve(cm.summary_model ?? state.model), 'summary');
    const { model } = route;
    // The offline model only echoes: its "summary" would replace real messages with noise.
    if (model.provider === OFFLINE_PROVIDER) return;
    const counter = tokenCounterFor(model, cm.token_estimate_factor);
    const request = (fold: CandidateMessage[]): ChatTurn[] => [
      { role: 'system', content: SUMMARY_INSTRUCTION },
      { role: 'user', content: summaryRequest(state.summary, fold) },
    ];
    // Fold as many of the oldest messages as the summary model's window takes; the rest wait for the next update.
    const room = model.contextWindow - cm.summary_max_tokens - cm.safety_margin_tokens;
    const size = (fold: CandidateMessage[]) => counter.countTurns(request(fold));
    let fold = whole;
    while (fold.length > 1 && size(fold) > room) {
      const shorter = fold.slice(0, exchangeEnd(fold.slice(0, Math.floor(fold.length / 2))));
      if (!shorter.length) break;
      fold = shorter;
    }
    // Still too long (one long message, or one tool exchange): the longest texts are cut until it fits.
    while (size(fold) > room) {
      const tokens = fold.map((m) => counter.count(m.content));
      const longest = tokens.indexOf(Math.max(...tokens));
      if (!tokens[longest]) break;
      const keep = Math.max(tokens[longest] - (size(fold) - room), 0);
      fold = fold.with(longest, { ...fold[longest], content: counter.truncate(fold[longest].content, keep) });
    }

    let reservation: BudgetReservation;
    try {
      reservation = await this.budgets.reserveCall(user, model, size(fold), cm.summary_max_tokens);
    } catch (err) {
      if (!(err instanceof BudgetError)) throw err;
      this.logger.debug(`Summary of session ${sessionId} not made: beyond the budgets (${err.message})`);
      return;
    }
    let result: Awaited<ReturnType<typeof route.complete>>;
    try {
      // The route caps maxTokens at the model's maximum.
      result = await route.complete({ messages: request(fold), maxTokens: cm.summary_max_tokens }, signal);
    } catch (err) {
      await this.budgets.settleCall(reservation, route.model, undefined);
      throw err;
    }
    await this.budgets.settleCall(reservation, route.model, result.usage);
    // Billed even when the summary turns out empty or a newer one wins.
    await this.chats.recordSessionCall(sessionId, {
      userId,
      applicationId: user.applicationId,
      purpose: 'summary',
      model: route.model,
      usage: result.usage,
    });
    const summary = result.text.trim();
    if (!summary) throw new Error(`${model.id} returned an empty summary; the previous one is kept`);
    const coversMessageId = fold[fold.length - 1].id!;
    if (!(await this.sessions.saveSummary(sessionId, summary, coversMessageId, state.summaryMessageId))) {
      this.logger.debug(`Summary of session ${sessionId} not stored: a newer one was stored meanwhile`);
    }
  }
}

/**
 * How many of `messages` (oldest first) a summary may cover without ending inside a tool exchange: not after an
 * assistant message with tool calls, nor after a tool result (more results, or the answer to them, may follow).
 * @returns the count, from 0 (none) to `messages.length`
 */
export function exchangeEnd(messages: readonly CandidateMessage[]): number {
  let end = messages.length;
  while (end > 0 && (messages[end - 1].role === 'tool' || toolCallsOf(messages[end - 1].parts).length)) end--;
  return end;
}

/**
 * A message as the summary model reads it: its parts in order, text as it is, a tool call as
 * `[called tool NAME with ARGUMENTS]`, an image as `[image: TYPE W×H]` (never its URL or data); a tool result as
 * `[tool result: TEXT]`.
 */
export function summaryText(m: Pick<CandidateMessage, 'role' | 'content' | 'parts'>): string {
  if (m.role === 'tool') return `[tool result: ${m.content}]`;
  if (!m.parts) return m.content;
  return m.parts
    .map((p) => {
      if (p.type === 'text') return p.text;
      if (p.type === 'tool_call') return `[called tool ${p.name} with ${p.arguments}]`;
      const size = p.width && p.height ? `${p.width}×${p.height}` : 'size unknown';
      return `[image: ${p.media_type ?? 'unknown type'} ${size}]`;
    })
    .filter(Boolean)
    .join('\n');
}

/** The summary request: the previous summary and the messages to fold in, each clearly delimited. */
function summaryRequest(previous: string | null, fold: CandidateMessage[]): string {
  const messages = fold.map((m) => `<message role="${m.role}">\n${m.content}\n</message>`).join('\n');
  return `Previous summary:\n<summary>\n${previous ?? '(none yet)'}\n</summary>\n\nNew messages:\n${messages}`;
}
