import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { AuthenticatedUser } from '../common/authenticated-user';
import { invalidField, notFound, ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { PromptsService } from '../prompts/prompts.service';
import { ModelRegistry } from '../providers/model-registry';
import { ModelRouter } from '../providers/model-router';
import { ModelCall, UsageService } from '../usage/usage.service';
import { SessionMatchDto } from '../search/dto/search.dto';
import { snippetHtml } from '../search/snippet';
import { ChatSessionEntity } from './chat-session.entity';
import { ChatSessionsRepository, ListedSession, NewSession, SessionList } from './chat-sessions.repository';
import { decodeCursor, encodeCursor } from './session-cursor';
import {
  DeletedDto,
  HistoryPageDto,
  SessionDto,
  SessionListMetaDto,
  SessionPageDto,
  SwitchModelResultDto,
} from './dto/session.dto';
import { CreateSessionDto, SwitchModelDto, UpdateSessionDto } from './dto/session-input.dto';
import { HistoryQueryDto, ListSessionsQueryDto, SessionListQueryDto } from './dto/session-list-query.dto';

/**
 * Chat sessions: creation, listing, the documented history and switch-model, soft and hard deletion.
 * A session of another user is a 404 identical to a missing one.
 */
@Injectable()
export class ChatsService {
  constructor(
    private readonly sessions: ChatSessionsRepository,
    private readonly registry: ModelRegistry,
    private readonly prompts: PromptsService,
    private readonly router: ModelRouter,
    private readonly usage: UsageService,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * Creates a session. The model defaults to the server's default model. With `prompt_id`, the prompt rendered
   * with `variables` becomes the system prompt, the session records the prompt and its version, and the prompt's
   * use is counted in the same transaction as the insert.
   * @throws 400 unknown model, or `system_prompt` together with `prompt_id`; 404 prompt; 422 missing variables;
   *         503 model's provider not configured
   */
  async create(user: AuthenticatedUser, dto: CreateSessionDto): Promise<SessionDto> {
    if (dto.prompt_id !== undefined && dto.system_prompt !== undefined) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, 'Give system_prompt or prompt_id, not both: the prompt becomes the system prompt.');
    }
    if (dto.prompt_id === undefined && dto.variables !== undefined) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, 'variables fill the placeholders of a prompt: give prompt_id too.');
    }
    const prompt = dto.prompt_id !== undefined ? await this.prompts.renderForSession(user, dto.prompt_id, dto.variables) : undefined;
    const fields = this.newSessionFields(user, {
      model: this.usableModelId(dto.model),
      title: dto.title,
      systemPrompt: prompt?.text ?? dto.system_prompt,
      metadata: dto.metadata,
    });
    if (!prompt) return SessionDto.from(await this.sessions.insert(fields));
    // The use is counted first: its UPDATE locks the prompt's row, so a concurrent delete waits for this commit
    // (the session's `prompt_id` then becomes null), or it committed first and nothing is counted or inserted.
    const session = await this.db.transaction(async (tx) =>
      (await this.prompts.countSessionUse(tx, prompt.promptId))
        ? this.sessions.insert({ ...fields, promptId: prompt.promptId, promptVersion: prompt.promptVersion }, tx)
        : null,
    );
    // Deleted since it was rendered: as if it had been missing from the start.
    if (!session) throw notFound('Prompt');
    return SessionDto.from(session);
  }

  /**
   * The fields of a new session, shared by `POST /v1/chat/sessions` and by the turn engine for a send without a
   * session (which inserts it in the same transaction as the first messages). Stamps the API key's application.
   * @param init.model registry id of a model whose chain the caller has checked can answer
   */
  newSessionFields(
    user: AuthenticatedUser,
    init: { model: string; title?: string; systemPrompt?: string; metadata?: Record<string, unknown> },
  ): NewSession {
    const { model } = init;
    return {
      userId: user.id,
      applicationId: user.applicationId,
      model,
      title: init.title ?? null,
      systemPrompt: init.systemPrompt ?? null,
      metadata: init.metadata ?? {},
    };
  }

  /**
   * Adds a model call made for a session (its title, its summary) to the session's totals, the user's and the
   * ledger, in one statement.
   * @param title the title the call made: stored in the same statement if the session is still untitled
   */
  async recordSessionCall(sessionId: number, call: ModelCall, title?: string): Promise<void> {
    const stmt = new SqlStatement();
    const cost = await this.usage.recordCall(call, stmt);
    this.sessions.addUsage(stmt, sessionId, { tokensInput: call.usage.inputTokens, tokensOutput: call.usage.outputTokens, cost }, title);
    await stmt.run(this.db);
  }

  /** @throws 404 when missing or not the caller's */
  async findOwned(userId: number, id: number): Promise<ChatSessionEntity> {
    const session = await this.sessions.findOwned(userId, id);
    if (!session) throw notFound('Chat session');
    return session;
  }

  async get(user: AuthenticatedUser, id: number): Promise<SessionDto> {
    return SessionDto.from(await this.findOwned(user.id, id));
  }

  /** `GET /v1/chat/sessions`: my sessions without their messages. @throws 400 when start_date is after end_date */
  async list(user: AuthenticatedUser, q: ListSessionsQueryDto): Promise<SessionPageDto> {
    const list = await this.findList(user, q);
    return {
      ...this.listMeta(q, list),
      items: list.items.map((l) => ({ ...SessionDto.from(l.session), ...this.matchOf(l) })),
    };
  }

  /**
   * The documented history (`GET /v1/chat/history`): the same list as `list`, each session with its newest
   * `history.messages_per_session` messages (oldest first); the page's messages come in one query.
   * @throws 400 when start_date is after end_date
   */
  async history(user: AuthenticatedUser, q: HistoryQueryDto): Promise<HistoryPageDto> {
    const list = await this.findList(user, q);
    const turns = await this.sessions.turnsOf(list.items.map((l) => l.session.id), this.config.history.messages_per_session);
    return {
      ...this.listMeta(q, list),
      sessions: list.items.map((l) => ({
        id: l.session.id,
        user_id: l.session.userId,
        application_id: l.session.applicationId,
        model: l.session.model,
        title: l.session.title,
        messages: turns.get(l.session.id) ?? [],
        created_at: l.session.createdAt.toISOString(),
        updated_at: l.session.updatedAt.toISOString(),
        ...this.matchOf(l),
      })),
    };
  }

  /** The page both lists show, by page number or after a cursor (the DTO has checked the cursor). */
  private async findList(user: AuthenticatedUser, q: SessionListQueryDto & { page_size: number }): Promise<SessionList> {
    const from = q.start_date ? new Date(q.start_date) : undefined;
    const to = q.end_date ? new Date(q.end_date) : undefined;
    if (from && to && from > to) {
      throw new ProblemException(HttpStatus.BAD_REQUEST, 'start_date must not be after end_date.');
    }
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q);
    if (after && 'problem' in after) throw invalidField('cursor', after.problem);
    return this.sessions.findList(
      user.id,
      {
        archived: q.archived ?? false,
        model: q.model ? this.modelFilter(q.model) : undefined,
        createdFrom: from,
        createdTo: to,
        applicationId: q.application_id,
      },
      {
        size: q.page_size,
        offset: after ? 0 : ((q.page ?? 1) - 1) * q.page_size,
        after,
      },
      q.search ? { text: q.search, idsPerSession: this.config.search.message_ids_per_session } : undefined,
    );
  }

  private listMeta(q: SessionListQueryDto & { page_size: number }, list: SessionList): SessionListMetaDto {
    const last = list.items.at(-1);
    return {
      total: list.total,
      page: q.cursor === undefined ? (q.page ?? 1) : null,
      page_size: q.page_size,
      next_cursor: list.more && last ? encodeCursor(q, last.position) : null,
    };
  }

  /** `{ match }` for a session of a searched list, else nothing. */
  private matchOf(l: ListedSession): { match?: SessionMatchDto } {
    if (!l.match) return {};
    const { rank, title, messageCount, messageIds, headline } = l.match;
    return {
      match: { rank, title, message_count: messageCount, message_ids: messageIds, snippet: headline === null ? null : snippetHtml(headline) },
    };
  }

  async update(user: AuthenticatedUser, id: number, dto: UpdateSessionDto): Promise<SessionDto> {
    const changes: { title?: string; systemPrompt?: string | null; metadata?: Record<string, unknown> } = {};
    if (dto.title !== undefined) changes.title = dto.title;
    if (dto.system_prompt !== undefined) changes.systemPrompt = dto.system_prompt;
    if (dto.metadata !== undefined) changes.metadata = dto.metadata;
    if (!Object.keys(changes).length) return this.get(user, id);
    const session = await this.sessions.update(user.id, id, changes);
    if (!session) throw notFound('Chat session');
    return SessionDto.from(session);
  }

  /** Deletes for good, or archives with `soft`. */
  async remove(user: AuthenticatedUser, id: number, soft: boolean): Promise<DeletedDto> {
    if (soft) {
      await this.findOwned(user.id, id);
      await this.sessions.setArchived(user.id, id, true);
      return { message: 'Session archived successfully' };
    }
    if (!(await this.sessions.delete(user.id, id))) throw notFound('Chat session');
    return { message: 'Session deleted successfully' };
  }

  async restore(user: AuthenticatedUser, id: number): Promise<SessionDto> {
    const session = await this.sessions.setArchived(user.id, id, false);
    if (!session) throw notFound('Chat session');
    return SessionDto.from(session);
  }

  /**
   * The documented switch-model: later answers use the new model; the history is kept whole.
   * @throws 400 unknown model, 404 no such session, 503 model's provider not configured
   */
  async switchModel(user: AuthenticatedUser, dto: SwitchModelDto): Promise<SwitchModelResultDto> {
    await this.findOwned(user.id, dto.session_id);
    const model = this.usableModelId(dto.model);
    const session = (await this.sessions.update(user.id, dto.session_id, { model }))!;
    const turns = await this.sessions.turnsOf([session.id]);
    return { session_id: session.id, model: session.model, messages: turns.get(session.id) ?? [], title: session.title };
  }

  /** Resolves a model name and checks that something can answer for it: it, or one of its fallbacks. */
  private usableModelId(name?: string): string {
    const model = name ? this.registry.resolve(name) : this.registry.defaultModel();
    this.router.route(model);
    return model.id;
  }

  /** A history/list filter accepts aliases (`gpt-4`) as well as ids; an unknown name matches itself. */
  private modelFilter(name: string): string {
    return this.registry.find(name)?.id ?? name;
  }
}
