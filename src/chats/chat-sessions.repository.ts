import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, In, IsNull, Not, Repository } from 'typeorm';
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
 * Chat sessions in PostgreSQL. Every read takes the owner's id, so a session of another user is simply not found.
 */
@Injectable()
export class ChatSessionsRepository {
  constructor(
    @InjectRepository(ChatSessionEntity) private readonly sessions: Repository<ChatSessionEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {}

  create(data: Partial<ChatSessionEntity>): Promise<ChatSessionEntity> {
    return this.sessions.save(this.sessions.create(data));
  }

  /**
   * Inserts a session started from a prompt and counts the prompt's use, in one transaction: both or neither.
   * The count comes first because its UPDATE locks the prompt's row: a concurrent delete then waits for this
   * commit (the session's `prompt_id` becomes null), or it committed first and the UPDATE finds no row.
   * Raw SQL for the count, as in the prompts repository: it is atomic and leaves `updated_at` alone.
   * @returns the session, or null when the prompt no longer exists (nothing written)
   */
  createFromPrompt(data: Partial<ChatSessionEntity> & { promptId: number }): Promise<ChatSessionEntity | null> {
    return this.sessions.manager.transaction(async (em) => {
      // TypeORM answers an UPDATE with [rows, affected].
      const [, counted]: [unknown, number] = await em.query('UPDATE prompts SET usage_count = usage_count + 1 WHERE id = $1', [
        data.promptId,
      ]);
      if (!counted) return null;
      const sessions = em.getRepository(ChatSessionEntity);
      return sessions.save(sessions.create(data));
    });
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
