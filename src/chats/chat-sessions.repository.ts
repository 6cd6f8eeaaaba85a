import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, IsNull, Not, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { branchWalk } from '../database/branch-walk';
import { EntityRows } from '../database/entity-rows';
import { SqlStatement } from '../database/sql-statement';
import { MessageEntity } from '../messages/message.entity';
import { SearchRepository } from '../search/search.repository';
import { ChatSessionEntity } from './chat-session.entity';
import { SessionListPosition } from './session-cursor';

/** Filters of a session list; all optional. */
export interface SessionFilter {
  /** Only active sessions (default), or only archived ones. */
  archived?: boolean;
  /** Registry id. */
  model?: string;
  createdFrom?: Date;
  createdTo?: Date;
  applicationId?: number;
}

/** A session list's `search`: a title containing `text`, or messages matching it by full-text search. */
export interface SessionSearch {
  text: string;
  /** Most matching message ids kept per session. */
  idsPerSession: number;
}

/** Which page of a list: `size` sessions after skipping `offset`, from the start or after `after`. */
export interface ListWindow {
  size: number;
  offset: number;
  after?: SessionListPosition;
}

/** How a session matched a list's search. */
export interface SessionMatch {
  /** 1 for a title hit plus the best message's `ts_rank`. */
  rank: number;
  title: boolean;
  messageCount: number;
  /** Best first. */
  messageIds: number[];
  /** The best message's `ts_headline` passages (markers of `search/snippet.ts`); null when no message matched. */
  headline: string | null;
}

/** A session of a list page, with the position a page ending on it ends at. */
export interface ListedSession {
  session: ChatSessionEntity;
  position: SessionListPosition;
  /** With a search only. */
  match?: SessionMatch;
}

/** A page of a session list. */
export interface SessionList {
  /** Sessions matching the filters, on every page. */
  total: number;
  items: ListedSession[];
  /** Whether sessions follow this page. */
  more: boolean;
}

/** `updated_at` to the microsecond, as cursors carry it. */
const POSITION_TIME = `to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

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
    private readonly search: SearchRepository,
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
   * Either way the turn's answer becomes the active leaf. An existing session deleted meanwhile yields no row.
   * @param session an existing session's id, or the fields of a new one
   * @param turn.leaf SQL giving the id of the turn's answer (the new active leaf)
   * @returns the CTE's name; it returns {@link SESSION_COLUMNS}
   */
  recordTurn(
    stmt: SqlStatement,
    session: number | NewSession,
    turn: { added: number; leaf: string; systemPrompt?: string; model?: string },
  ): string {
    if (typeof session === 'number') {
      return stmt.with(
        'session',
        `UPDATE chat_sessions SET message_count = message_count + ${stmt.param(turn.added, 'integer')},
           system_prompt = COALESCE(${stmt.param(turn.systemPrompt ?? null, 'text')}, system_prompt),
           model = COALESCE(${stmt.param(turn.model ?? null, 'varchar')}, model), updated_at = now(),
           active_leaf_id = ${turn.leaf}
         WHERE id = ${stmt.param(session, 'integer')} RETURNING ${SESSION_COLUMNS}`,
      );
    }
    return stmt.with(
      'session',
      `INSERT INTO chat_sessions (user_id, application_id, model, title, system_prompt, metadata, message_count, active_leaf_id)
       VALUES (${stmt.param(session.userId, 'integer')}, ${stmt.param(session.applicationId ?? null, 'integer')},
         ${stmt.param(session.model, 'varchar')}, ${stmt.param(session.title ?? null, 'varchar')},
         ${stmt.param(session.systemPrompt ?? null, 'text')}, ${stmt.param(JSON.stringify(session.metadata ?? {}), 'jsonb')},
         ${stmt.param(turn.added, 'integer')}, ${turn.leaf})
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

  /**
   * Makes message `leafId` the active leaf of an owned session; with `dropSummary`, also forgets its summary (it
   * covers messages the new branch does not hold: the next send summarizes the branch afresh).
   * @returns the session, or null when it is not the user's
   */
  async setActiveLeaf(userId: number, id: number, leafId: number, dropSummary: boolean): Promise<ChatSessionEntity | null> {
    // pg answers an UPDATE with [rows, affected count].
    const [rows]: [Record<string, unknown>[], number] = await this.sessions.query(
      `UPDATE chat_sessions SET active_leaf_id = $3,
              summary = CASE WHEN $4::boolean THEN NULL ELSE summary END,
              summary_message_id = CASE WHEN $4::boolean THEN NULL ELSE summary_message_id END,
              summary_updated_at = CASE WHEN $4::boolean THEN NULL ELSE summary_updated_at END
        WHERE id = $1 AND user_id = $2 RETURNING ${this.rows.columns}`,
      [id, userId, leafId, dropSummary],
    );
    return rows.length ? this.rows.hydrate(rows[0]) : null;
  }

  /**
   * Forgets a session's summary (a turn is about to branch off before the last message it covers). Leaves
   * `updated_at` alone.
   */
  async dropSummary(id: number): Promise<void> {
    await this.sessions.query(
      'UPDATE chat_sessions SET summary = NULL, summary_message_id = NULL, summary_updated_at = NULL WHERE id = $1',
      [id],
    );
  }

  /** In the caller's transaction: the messages copied into a new session (a fork, an import), counted, `leafId` its active leaf. */
  async recordCopiedMessages(tx: EntityManager, id: number, messageCount: number, leafId: number): Promise<void> {
    await tx.query('UPDATE chat_sessions SET message_count = $2, active_leaf_id = $3 WHERE id = $1', [id, messageCount, leafId]);
  }

  /** @returns the session if it exists and belongs to `userId`, else null. */
  async findOwned(userId: number, id: number): Promise<ChatSessionEntity | null> {
    const rows: Record<string, unknown>[] = await this.sessions.query(
      `SELECT ${this.rows.columns} FROM chat_sessions WHERE id = $1 AND user_id = $2`,
      [id, userId],
    );
    return rows.length ? this.rows.hydrate(rows[0]) : null;
  }

  /**
   * A page of the user's sessions, the one query builder of both session lists: newest `updated_at` first (then
   * highest id), or with a search best rank first (then the same). One statement: the page, and the count of every
   * matching session.
   * @param window `offset` sessions skipped (page numbers); `after` a keyset position (cursors)
   */
  async findList(userId: number, filter: SessionFilter, window: ListWindow, search?: SessionSearch): Promise<SessionList> {
    const stmt = new SqlStatement();
    const conditions = [`s.user_id = ${stmt.param(userId, 'integer')}`, `s.archived_at IS ${filter.archived ? 'NOT NULL' : 'NULL'}`];
    if (filter.model !== undefined) conditions.push(`s.model = ${stmt.param(filter.model, 'varchar')}`);
    if (filter.createdFrom) conditions.push(`s.created_at >= ${stmt.param(filter.createdFrom, 'timestamptz')}`);
    if (filter.createdTo) conditions.push(`s.created_at <= ${stmt.param(filter.createdTo, 'timestamptz')}`);
    if (filter.applicationId !== undefined) conditions.push(`s.application_id = ${stmt.param(filter.applicationId, 'integer')}`);
    const where = conditions.join(' AND ');

    // Without a search the sessions are read twice (page, count) straight from the table and its indexes; with
    // one, the matches are worked out once.
    let listed = `(SELECT s.* FROM chat_sessions s WHERE ${where}) listed`;
    let headline = 'NULL::text';
    if (search) {
      const q = this.search.textQuery(stmt, search.text);
      const hits = this.search.addSessionHits(stmt, q, where, search.idsPerSession);
      const pattern = stmt.param(`%${search.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`, 'text');
      listed = stmt.with(
        'listed',
        `SELECT s.*, COALESCE(s.title ILIKE ${pattern}, false) AS title_hit,
                (COALESCE(s.title ILIKE ${pattern}, false)::int + COALESCE(h.best, 0))::real AS rank,
                COALESCE(h.message_count, 0) AS message_count_matched, COALESCE(h.message_ids, '{}') AS message_ids
           FROM chat_sessions s LEFT JOIN ${hits} h ON h.session_id = s.id
          WHERE ${where} AND (s.title ILIKE ${pattern} OR h.session_id IS NOT NULL)`,
      );
      headline = this.search.headlineOf(stmt, q, 'page.message_ids[1]');
    }
    const order = search ? ['rank', 'updated_at', 'id'] : ['updated_at', 'id'];
    let after = 'true';
    if (window.after) {
      const key = [`${stmt.param(window.after.updatedAt, 'timestamptz')}`, stmt.param(window.after.id, 'integer')];
      if (search) key.unshift(stmt.param(window.after.rank ?? null, 'real'));
      after = `(${order.join(', ')}) < (${key.join(', ')})`;
    }
    const orderBy = order.map((c) => `${c} DESC`).join(', ');
    stmt.with(
      'page',
      `SELECT *, ${POSITION_TIME} AS position_time${search ? ', rank::text AS position_rank' : ''} FROM ${listed}
        WHERE ${after} ORDER BY ${orderBy}
        LIMIT ${stmt.param(window.size + 1, 'integer')} OFFSET ${stmt.param(window.offset, 'integer')}`,
    );
    stmt.with('total', `SELECT count(*)::int AS total FROM ${listed}`);
    const rows = await stmt.run<Record<string, unknown> & { total: number; id: number | null }>(
      this.sessions.manager,
      `SELECT total.total, page.*, ${headline} AS headline FROM total LEFT JOIN page ON true
        ORDER BY ${order.map((c) => `page.${c} DESC`).join(', ')}`,
    );
    const found = rows.filter((r) => r.id !== null);
    return {
      total: rows[0].total,
      more: found.length > window.size,
      items: found.slice(0, window.size).map((r) => ({
        session: this.rows.hydrate(r),
        position: {
          id: r.id as number,
          updatedAt: r.position_time as string,
          ...(search ? { rank: r.position_rank as string } : {}),
        },
        ...(search
          ? {
              match: {
                rank: r.rank as number,
                title: r.title_hit as boolean,
                messageCount: r.message_count_matched as number,
                messageIds: r.message_ids as number[],
                headline: r.headline as string | null,
              },
            }
          : {}),
      })),
    };
  }

  /**
   * The active branch of several sessions for history answers, oldest first per session, in one query; empty
   * `failed` answers (a provider that failed before saying anything) are left out.
   * @param perSession only each session's newest this many (walked up from its active leaf, {@link branchWalk}, so
   *        a page costs the same however long its sessions are); all of them when omitted
   */
  async turnsOf(sessionIds: number[], perSession?: number): Promise<Map<number, Turn[]>> {
    const result = new Map<number, Turn[]>(sessionIds.map((id) => [id, []]));
    if (!sessionIds.length) return result;
    const rows: { session_id: number; role: string; content: string }[] = await this.sessions.query(
      `SELECT s.id AS session_id, m.role, m.content
         FROM chat_sessions s
         CROSS JOIN LATERAL (
           WITH RECURSIVE ${branchWalk('branch', ['id', 'role', 'content', 'status'], 's.active_leaf_id', '0')}
           SELECT id, role, content FROM branch WHERE status <> 'failed' OR content <> '' LIMIT $2
         ) m
        WHERE s.id = ANY($1::integer[])
        ORDER BY s.id, m.id`,
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
