import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { BudgetError } from '../budgets/budget-errors';
import { BudgetReservation, BudgetsService } from '../budgets/budgets.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { BackgroundWork } from '../common/background-work';
import { AppConfig, appConfig } from '../config/app-config';
import { ModelUsage } from '../providers/model-provider';
import { ModelRegistry, OFFLINE_PROVIDER } from '../providers/model-registry';
import { ModelRoute, ModelRouter } from '../providers/model-router';
import { tokenCounterFor } from '../providers/tokenizer';
import { ChatSessionsRepository } from './chat-sessions.repository';
import { ChatsService } from './chats.service';

/** A title made from the first user message keeps this many characters at most. */
const TITLE_LENGTH = 60;
/** Characters of the first exchange shown to the title model: enough for a topic, cheap to send. */
const EXCERPT_LENGTH = 2000;
/** Output tokens a title may take. */
const TITLE_MAX_TOKENS = 24;

/** The title model's instruction (system turn); the first exchange follows as the user turn. */
export const TITLE_INSTRUCTION =
  'Write a short title (at most 6 words) for the conversation below, in its language. ' +
  'Answer with the title only: no quotes, no final period.';

/**
 * Titles for untitled sessions, from their first exchange, by the title model
 * (`context_management.title_model`, default the session's own model).
 *
 * - The offline model (also every model in offline mode) titles at once with the first words of the user's
 *   message: the title is stored with the answer and the `done` event carries it.
 * - A real model titles in the background after the answer is stored; until then the session's title is null
 *   (and so is `title` in the answer). If the model fails, the first words are used instead.
 *
 * Either way the title is written only while the session is still untitled (`WHERE title IS NULL`, atomically),
 * so a title the user set — at creation or by a PATCH racing the model — is never overwritten.
 */
@Injectable()
export class SessionTitlesService implements OnModuleDestroy {
  private readonly logger = new Logger(SessionTitlesService.name);
  private readonly work = new BackgroundWork(this.logger);

  constructor(
    private readonly sessions: ChatSessionsRepository,
    private readonly registry: ModelRegistry,
    private readonly router: ModelRouter,
    private readonly chats: ChatsService,
    private readonly budgets: BudgetsService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * The model that titles a session answered through `answerRoute`, planned once per send: the title model
   * (`context_management.title_model`) when one is configured, else the answer's own chain.
   * @returns the route, or undefined when that is the offline model or can't be reached (first words instead)
   */
  titleRoute(answerRoute: ModelRoute): ModelRoute | undefined {
    const name = this.config.contextManagement.title_model;
    try {
      const route = name ? this.router.route(this.registry.resolve(name), 'title') : answerRoute.again('title');
      return route.model.provider === OFFLINE_PROVIDER ? undefined : route;
    } catch {
      return undefined; // its provider is not configured: first words instead
    }
  }

  /**
   * The title to store with the first answer, when it needs no model call.
   * @param titler the send's {@link titleRoute}
   * @returns the first words of `userText` when no model titles (offline, or the title model can't be reached),
   *          else undefined: a model titles the session after the answer
   */
  immediateTitle(titler: ModelRoute | undefined, userText: string): string | undefined {
    return titler ? undefined : titleFrom(userText);
  }

  /**
   * Called once an answer is stored: titles a still untitled session with `titler`, in the background, and adds
   * the call's usage to the session's and the user's totals and the ledger (purpose `title`). The call is reserved
   * against the budgets of `user` (who sent the answer) first; one that does not fit is not made, and the session
   * is titled with its first words. Does nothing for a titled session or when the title was made at once
   * ({@link immediateTitle}).
   */
  afterAnswer(
    session: { id: number; userId: number; title: string | null },
    titler: ModelRoute | undefined,
    userText: string,
    answerText: string,
    user: Pick<AuthenticatedUser, 'id' | 'tier' | 'applicationId' | 'limits'>,
  ): void {
    if (session.title !== null || !titler) return;
    this.work.start(`title:${session.id}`, `Title of session ${session.id}`, async (signal) => {
      let title: string;
      let usage: ModelUsage | undefined;
      const messages = [
        { role: 'system' as const, content: TITLE_INSTRUCTION },
        { role: 'user' as const, content: `User: ${excerpt(userText)}\n\nAssistant: ${excerpt(answerText)}` },
      ];
      let reservation: BudgetReservation;
      try {
        const input = tokenCounterFor(titler.model, this.config.contextManagement.token_estimate_factor).countRequest(messages);
        reservation = await this.budgets.reserveCall(user, titler.model, input, TITLE_MAX_TOKENS);
      } catch (err) {
        if (!(err instanceof BudgetError)) throw err;
        this.logger.debug(`Title of session ${session.id}: beyond the budgets (${err.message}); using its first words`);
        await this.sessions.setTitleIfUntitled(session.id, titleFrom(userText));
        return;
      }
      try {
        const result = await titler.complete({ messages, maxTokens: TITLE_MAX_TOKENS }, signal);
        title = cleanTitle(result.text) || titleFrom(userText);
        usage = result.usage;
      } catch (err) {
        if (signal.aborted) throw err;
        this.logger.warn(`Title of session ${session.id} from ${titler.model.id} failed (${(err as Error).message}); using its first words`);
        title = titleFrom(userText);
      }
      await this.budgets.settleCall(reservation, titler.model, usage);
      // The provider billed the call whether or not the title is still wanted (a PATCH may have won the race):
      // its usage and the title (if the session is still untitled) are stored in one statement.
      if (usage) {
        await this.chats.recordSessionCall(
          session.id,
          { userId: session.userId, applicationId: user.applicationId, purpose: 'title', model: titler.model, usage },
          title,
        );
      } else {
        await this.sessions.setTitleIfUntitled(session.id, title);
      }
    });
  }

  /** Resolves when no title is being made (shutdown waits for this; so can a caller that needs the result). */
  whenIdle(): Promise<void> {
    return this.work.idle();
  }

  onModuleDestroy(): Promise<void> {
    return this.work.stop();
  }
}

/** The first words of the first user message, on one line, at most TITLE_LENGTH characters. */
export function titleFrom(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= TITLE_LENGTH) return line;
  const cut = line.slice(0, TITLE_LENGTH);
  const space = cut.lastIndexOf(' ');
  return `${(space > TITLE_LENGTH / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A model's title on one line: the first non-empty line, without a `Title:` label, quotes or final period. */
export function cleanTitle(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const bare = line
    .replace(/^title\s*:\s*/i, '')
    .replace(/^["'“”«*]+|["'“”»*]+$/g, '')
    .replace(/\.$/, '')
    .trim();
  return titleFrom(bare);
}

function excerpt(text: string): string {
  return text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}…` : text;
}
