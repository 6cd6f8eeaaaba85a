import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, IsNull, Not, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EntityRows } from '../database/entity-rows';
import { SqlStatement } from '../database/sql-statement';
import { MessageEntity } from '../messages/message.entity';
import { ChatSessionEntity } from './chat-session.entity';

/** Filters of a session listing; all optional. */
export interface SessionFilter {
  titleContains?: string;
  model?: string;
  archived?: boolean;
  createdFrom?: Date;
  createdTo?: Date;
}

/** The fields of a new session. */
export type NewSession = Pick<ChatSessionEntity, 'userId' | 'model'> &
  Partial<Pick<ChatSessionEntity, 'applicationId' | 'title' | 'systemPrompt' | 'metadata'>>;

/** Usage added to running totals. */
export interface UsageSums {
  tokensInput: number;
  tokensOutput: number;
  /** USD */
  cost: number;
}

/** The columns the turn's CTEs return, and the row they come as. */
export const SESSION_COLUMNS = 'id, user_id, title, message_count';

/** A session as a send's writes return it. */
export interface SessionRow {
  id: number;
  user_id: number;
  title: string | null;
  message_count: number;
}

/** Role and content of a message, oldest first, as history answers show them. */
export interface Turn {
  role: string;
  content: string;
}

/**
 * Chat sessions in PostgreSQL, the only writer of `chat_sessions`: turns, answers, usage totals, titles and
 * summaries are written here through intent-named methods, most of them in the caller's transaction. Every read
 * by a user takes the owner's id, so a session of another user is simply not found.
 */
@Injectable()
export class ChatSessionsRepository {
  /** Sessions read by hand-written SQL where every send reads one. */
  private readonly rows: EntityRows<ChatSessionEntity>;

  constructor(
    @InjectRepository(ChatSessionEntity) private readonly sessions: Repository<ChatSessionEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {
    this.rows = new EntityRows(sessions);
  }

  /**
   * Inserts a session.
   * @param tx the caller's transaction (a send inserts the session with its first messages; a session created from
   *        a prompt with the prompt's use), or none for an insert of its own
   */
  insert(data: Partial<ChatSessionEntity>, tx: EntityManager = this.sessions.manager): Promise<ChatSessionEntity> {
    return tx.save(tx.create(ChatSessionEntity, data));
  }

  /**
   * Adds to `stmt` a CTE `session` recording a new turn: a new session inserted with `added` messages counted, or
   * an existing one with `added` more messages, the activity time, and the request's system prompt when it gives
   * one (it replaces the stored one), and `model` when the request names another one (it becomes the session's).
   * An existing session deleted meanwhile yields no row.
   * @param session an existing session's id, or the fields of a new one
   * @returns the CTE's name; it returns {@link SESSION_COLUMNS}
   */
  recordTurn(stmt: SqlStatement, session: number | NewSession, turn: { added: number; systemPrompt?: string; model?: string }): string {
    if (typeof session === 'number') {
      return stmt.with(
        'session',
        `UPDATE chat_sessions SET message_count = message_count + ${stmt.param(turn.added, 'integer')},
           system_prompt = COALESCE(${stmt.param(turn.systemPrompt ?? null, 'text')}, system_prompt),
           model = COALESCE(${stmt.param(turn.model ?? null, 'varchar')}, model), updated_at = now()
         WHERE id = ${stmt.param(session, 'integer')} RETURNING ${SESSION_COLUMNS}`,
      );
    }
    return stmt.with(
      'session',
      `INSERT INTO chat_sessions (user_id, application_id, model, title, system_prompt, metadata, message_count)
       VALUES (${stmt.param(session.userId, 'integer')}, ${stmt.param(session.applicationId ?? null, 'integer')},
         ${stmt.param(session.model, 'varchar')}, ${stmt.param(session.title ?? null, 'varchar')},
         ${stmt.param(session.systemPrompt ?? null, 'text')}, ${stmt.param(JSON.stringify(session.metadata ?? {}), 'jsonb')},
         ${stmt.param(turn.added, 'integer')})
       RETURNING ${SESSION_COLUMNS}`,
    );
  }

  /**
   * Adds to `stmt` a CTE `session` recording a settled answer: its usage added to the running totals (relative
   * increments, so concurrent answers lose nothing), the activity time, and `title` for a session still untitled
   * (a title set meanwhile is kept).
   * @param usage.cost USD
   * @returns the CTE's name; it returns {@link SESSION_COLUMNS}
   */
  recordAnswer(stmt: SqlStatement, sessionId: number, usage: UsageSums, title?: string): string {
    return stmt.with(
      'session',
      `UPDATE chat_sessions SET ${this.usageSums(stmt, usage)}, updated_at = now(),
         title = COALESCE(title, ${stmt.param(title ?? null, 'varchar')})
       WHERE id = ${stmt.param(sessionId, 'integer')} RETURNING ${SESSION_COLUMNS}`,
    );
  }

  /**
   * Adds to `stmt` a CTE `session_usage` adding a model call made for the session (its title, its summary) to the
   * running totals. Leaves `updated_at` alone: usage is not activity in the session.
   * @param title a generated title, set only while the session is untitled (a title set meanwhile is kept)
   * @returns the CTE's name
   */
  addUsage(stmt: SqlStatement, sessionId: number, usage: UsageSums, title?: string): string {
    const titled = title === undefined ? '' : `, title = COALESCE(title, ${stmt.param(title, 'varchar')})`;
    return stmt.with(
      'session_usage',
      `UPDATE chat_sessions SET ${this.usageSums(stmt, usage)}${titled} WHERE id = ${stmt.param(sessionId, 'integer')} RETURNING id`,
    );
  }

  private usageSums(stmt: SqlStatement, u: UsageSums): string {
    return `tokens_input = tokens_input + ${stmt.param(u.tokensInput, 'bigint')},
      tokens_output = tokens_output + ${stmt.param(u.tokensOutput, 'bigint')}, cost = cost + ${stmt.param(u.cost, 'numeric')}`;
  }

  /**
   * Stores a summary covering messages up to `coversMessageId`, only if nobody stored another since
   * `previousMessageId` was read (compare-and-set), so a slow summary never replaces a newer one. Leaves
   * `updated_at` alone: a summary is not activity in the session.
   * @returns whether it was stored
   */
  async saveSummary(sessionId: number, summary: string, coversMessageId: number, previousMessageId: number | null): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.sessions.query(
      `UPDATE chat_sessions SET summary = $2, summary_message_id = $3, summary_updated_at = now()
        WHERE id = $1 AND summary_message_id IS NOT DISTINCT FROM $4::integer`,
      [sessionId, summary, coversMessageId, previousMessageId],
    );
    return affected > 0;
  }

  /** @returns the session if it exists and belongs to `userId`, else null. */
  async findOwned(userId: number, id: number): Promise<ChatSessionEntity | null> {
    const rows: Record<string, unknown>[] = await this.sessions.query(
      `SELECT ${this.rows.columns} FROM chat_sessions WHERE id = $1 AND user_id = $2`,
      [id, userId],
    );
    return rows.length ? this.rows.hydrate(rows[0]) : null;
  }

  /** A page of the user's sessions, newest `updated_at` first. */
  findPage(userId: number, filter: SessionFilter, page: number, pageSize: number): Promise<[ChatSessionEntity[], number]> {
    const qb = this.sessions.createQueryBuilder('s').where('s.user_id = :userId', { userId });
    qb.andWhere(filter.archived ? 's.archived_at IS NOT NULL' : 's.archived_at IS NULL');
    if (filter.titleContains) {
      const pattern = `%${filter.titleContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere('s.title ILIKE :pattern', { pattern });
    }
    if (filter.model) qb.andWhere('s.model = :model', { model: filter.model });
    if (filter.createdFrom) qb.andWhere('s.created_at >= :from', { from: filter.createdFrom });
    if (filter.createdTo) qb.andWhere('s.created_at <= :to', { to: filter.createdTo });
    return qb
      .orderBy('s.updated_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .skip((page - 1) * pageSize)
      .take(pageSize)
      .getManyAndCount();
  }

  /**
   * Messages of several sessions for history answers, oldest first per session, in one query; empty `failed`
   * answers (a provider that failed before saying anything) are left out.
   * @param perSession only each session's newest this many (read backwards on the (session_id, id) index, so a
   *        page costs the same however long its sessions are); all of them when omitted
   */
  async turnsOf(sessionIds: number[], perSession?: number): Promise<Map<number, Turn[]>> {
    const result = new Map<number, Turn[]>(sessionIds.map((id) => [id, []]));
    if (!sessionIds.length) return result;
    const rows: { session_id: number; role: string; content: string }[] = await this.sessions.query(
      `SELECT m.session_id, m.role, m.content
         FROM unnest($1::integer[]) AS s(id)
         CROSS JOIN LATERAL (
           SELECT id, session_id, role, content FROM messages
            WHERE session_id = s.id AND (status <> 'failed' OR content <> '')
            ORDER BY session_id DESC, id DESC LIMIT $2
         ) m
        ORDER BY m.session_id, m.id`,
      [sessionIds, perSession ?? null],
    );
    for (const m of rows) result.get(m.session_id)!.push({ role: m.role, content: m.content });
    return result;
  }

  /** Applies changes to an owned session and returns it; null when not found. */
  async update(
    userId: number,
    id: number,
    changes: Partial<Pick<ChatSessionEntity, 'title' | 'systemPrompt' | 'metadata' | 'model'>>,
  ): Promise<ChatSessionEntity | null> {
    // TypeORM's deep-partial type can't express a jsonb Record; the fields are plain columns.
    const result = await this.sessions.update({ id, userId }, changes as QueryDeepPartialEntity<ChatSessionEntity>);
    return result.affected ? this.findOwned(userId, id) : null;
  }

  /**
   * Gives a still untitled session a title, atomically: a title set meanwhile (by the user) is never replaced.
   * Leaves `updated_at` alone: a generated title is not activity in the session.
   * @returns whether the title was stored
   */
  async setTitleIfUntitled(id: number, title: string): Promise<boolean> {
    const [, affected]: [unknown, number] = await this.sessions.query(
      'UPDATE chat_sessions SET title = $2 WHERE id = $1 AND title IS NULL',
      [id, title],
    );
    return affected > 0;
  }

  /** Sets or clears `archived_at`; only acts on a session in the other state. @returns the session, or null. */
  async setArchived(userId: number, id: number, archived: boolean): Promise<ChatSessionEntity | null> {
    await this.sessions.update(
      { id, userId, archivedAt: archived ? IsNull() : Not(IsNull()) },
      { archivedAt: archived ? () => 'now()' : null },
    );
    return this.findOwned(userId, id);
  }

  /** Deletes an owned session with its messages (FK cascade). @returns whether it existed. */
  async delete(userId: number, id: number): Promise<boolean> {
    const result = await this.sessions.delete({ id, userId });
    return Boolean(result.affected);
  }
}
