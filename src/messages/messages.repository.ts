import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, MoreThan, Repository } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import type { ModelAttempt } from '../providers/model-router';
import { UsageRepository } from '../usage/usage.repository';
import { MessageEntity, MessageRole, MessageStatus } from './message.entity';

/** What `startTurn` stores: the session (existing or new), the new turn and the answer's placeholder row. */
export interface NewTurn {
  /** An existing session's id, or the fields of a session to create in the same transaction. */
  session: number | Partial<ChatSessionEntity>;
  /** Replaces the session's system prompt when set. */
  systemPrompt?: string;
  turns: { role: MessageRole; content: string }[];
  /** Registry id of the model that will answer. */
  answerModel: string;
}

/** How an answer ended, with its usage and cost. */
export interface AnswerOutcome {
  content: string;
  status: MessageStatus;
  finishReason: string | null;
  /** Registry id of the model that answered (after a failure: the last one tried). */
  model: string;
  /** Every model tried, in order. */
  attempts: ModelAttempt[];
  tokensInput: number;
  tokensOutput: number;
  /** Of `tokensInput`, served from the provider's prompt cache. */
  tokensCached: number;
  /** Of `tokensOutput`, spent on reasoning. */
  tokensReasoning: number;
  usageEstimated: boolean;
  /** USD */
  cost: number;
  error?: string;
  /** Title given to a still untitled session. */
  title?: string;
}

/**
 * Messages in PostgreSQL. Writes that change usage totals update the message, its session and its user in one
 * transaction with relative increments (`x = x + n`), so concurrent answers never lose an update.
 */
@Injectable()
export class MessagesRepository {
  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly usage: UsageRepository,
  ) {}

  /**
   * Commits the user's turn and an empty `incomplete` assistant row in one transaction, before any model is called.
   * @returns the session (after the insert) and the assistant row's id
   */
  async startTurn(turn: NewTurn): Promise<{ session: ChatSessionEntity; answerId: number }> {
    return this.dataSource.transaction(async (tx) => {
      const sessionId =
        typeof turn.session === 'number'
          ? turn.session
          : (await tx.save(tx.create(ChatSessionEntity, turn.session))).id;
      const rows = await tx.save(
        [...turn.turns, { role: 'assistant' as const, content: '' }].map((t, i, all) =>
          tx.create(MessageEntity, {
            sessionId,
            role: t.role,
            content: t.content,
            ...(i === all.length - 1 ? { status: 'incomplete' as const, model: turn.answerModel } : {}),
          }),
        ),
      );
      await tx
        .createQueryBuilder()
        .update(ChatSessionEntity)
        .set({
          messageCount: () => `message_count + ${rows.length}`,
          ...(turn.systemPrompt !== undefined ? { systemPrompt: turn.systemPrompt } : {}),
          updatedAt: () => 'now()',
        })
        .where({ id: sessionId })
        .execute();
      const session = await tx.findOneByOrFail(ChatSessionEntity, { id: sessionId });
      return { session, answerId: rows[rows.length - 1].id };
    });
  }

  /**
   * Stores how an answer ended and adds its usage to the session's and the user's totals and to the user's
   * `usage_daily` row for today (UTC), the answering model and purpose `answer`, atomically.
   * @returns the session as it is afterwards
   */
  async finishAnswer(answerId: number, sessionId: number, userId: number, outcome: AnswerOutcome): Promise<ChatSessionEntity> {
    return this.dataSource.transaction(async (tx) => {
      await tx.update(MessageEntity, { id: answerId }, {
        content: outcome.content,
        status: outcome.status,
        finishReason: outcome.finishReason,
        model: outcome.model,
        attempts: outcome.attempts,
        tokensInput: outcome.tokensInput,
        tokensOutput: outcome.tokensOutput,
        tokensCached: outcome.tokensCached,
        tokensReasoning: outcome.tokensReasoning,
        usageEstimated: outcome.usageEstimated,
        cost: outcome.cost,
        error: outcome.error ?? null,
      });
      await tx
        .createQueryBuilder()
        .update(ChatSessionEntity)
        .set({
          updatedAt: () => 'now()',
          ...(outcome.title ? { title: () => 'COALESCE(title, :title)' } : {}),
        })
        .where('id = :sessionId', { sessionId })
        .setParameters({ title: outcome.title })
        .execute();
      await this.usage.record(
        {
          userId,
          sessionId,
          model: outcome.model,
          purpose: 'answer',
          tokensInput: outcome.tokensInput,
          tokensOutput: outcome.tokensOutput,
          tokensCached: outcome.tokensCached,
          tokensReasoning: outcome.tokensReasoning,
          cost: outcome.cost,
        },
        tx,
      );
      return tx.findOneByOrFail(ChatSessionEntity, { id: sessionId });
    });
  }

  /**
   * One page of a session's messages after `afterId`, oldest first, by keyset on (session_id, id).
   * @returns up to `limit` messages and whether more follow
   */
  async page(sessionId: number, afterId: number, limit: number): Promise<{ items: MessageEntity[]; more: boolean }> {
    const rows = await this.messages.find({
      where: { sessionId, id: MoreThan(afterId) },
      order: { id: 'ASC' },
      take: limit + 1,
    });
    return { items: rows.slice(0, limit), more: rows.length > limit };
  }
}
