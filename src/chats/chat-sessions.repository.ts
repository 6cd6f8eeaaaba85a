import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, EntityManager, In, IsNull, Not, Repository } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
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
  constructor(
    @InjectRepository(ChatSessionEntity) private readonly sessions: Repository<ChatSessionEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {}

  /**
   * Inserts a session.
   * @param tx the caller's transaction (a send inserts the session with its first messages; a session created from
   *        a prompt with the prompt's use), or none for an insert of its own
   */
  insert(data: Partial<ChatSessionEntity>, tx: EntityManager = this.sessions.manager): Promise<ChatSessionEntity> {
    return tx.save(tx.create(ChatSessionEntity, data));
  }

  /**
   * Records a new turn: `added` messages more, the activity time, and the request's system prompt when it gives
   * one (it replaces the stored one).
   * @returns the session as it is afterwards
   */
  async recordTurn(tx: EntityManager, sessionId: number, turn: { added: number; systemPrompt?: string }): Promise<ChatSessionEntity> {
    await tx
      .createQueryBuilder()
      .update(ChatSessionEntity)
      .set({
        messageCount: () => `message_count + ${Number(turn.added)}`,
        ...(turn.systemPrompt !== undefined ? { systemPrompt: turn.systemPrompt } : {}),
        updatedAt: () => 'now()',
      })
      .where({ id: sessionId })
      .execute();
    return tx.findOneByOrFail(ChatSessionEntity, { id: sessionId });
  }

  /**
   * Records a settled answer: the activity time, and `title` for a session still untitled (a title set meanwhile
   * is kept).
   * @returns the session as it is afterwards
   */
  async recordAnswer(tx: EntityManager, sessionId: number, answer: { title?: string }): Promise<ChatSessionEntity> {
    await tx
      .createQueryBuilder()
      .update(ChatSessionEntity)
      .set({ updatedAt: () => 'now()', ...(answer.title ? { title: () => 'COALESCE(title, :title)' } : {}) })
      .where('id = :sessionId', { sessionId })
      .setParameters({ title: answer.title })
      .execute();
    return tx.findOneByOrFail(ChatSessionEntity, { id: sessionId });
  }

  /**
   * Adds one model call's usage to the session's running totals, with relative increments so concurrent calls
   * lose nothing. Leaves `updated_at` alone: usage is not an edit.
   * @param cost USD
   */
  async addUsage(tx: EntityManager, sessionId: number, usage: { tokensInput: number; tokensOutput: number; cost: number }): Promise<void> {
    await tx.query(
      'UPDATE chat_sessions SET tokens_input = tokens_input + $2, tokens_output = tokens_output + $3, cost = cost + $4 WHERE id = $1',
      [sessionId, usage.tokensInput, usage.tokensOutput, usage.cost],
    );
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
  findOwned(userId: number, id: number): Promise<ChatSessionEntity | null> {
    return this.sessions.findOneBy({ id, userId });
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
   * Messages of several sessions for history answers, oldest first per session; empty `failed` answers (a provider
   * that failed before saying anything) are left out.
   */
  async turnsOf(sessionIds: number[]): Promise<Map<number, Turn[]>> {
    const result = new Map<number, Turn[]>(sessionIds.map((id) => [id, []]));
    if (!sessionIds.length) return result;
    const rows = await this.messages
      .createQueryBuilder('m')
      .select(['m.sessionId', 'm.role', 'm.content'])
      .where({ sessionId: In(sessionIds) })
      .andWhere(new Brackets((w) => w.where("m.status <> 'failed'").orWhere("m.content <> ''")))
      .orderBy('m.session_id', 'ASC')
      .addOrderBy('m.id', 'ASC')
      .getMany();
    for (const m of rows) result.get(m.sessionId)!.push({ role: m.role, content: m.content });
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
