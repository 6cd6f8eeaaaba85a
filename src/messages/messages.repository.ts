import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, MoreThan, Repository } from 'typeorm';
import type { ModelAttempt } from '../providers/model-attempt';
import { MessageEntity, MessageRole, MessageStatus } from './message.entity';

/** How an answer ended, as stored on its message. */
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
  /** Why a `failed` answer failed (a sentence safe to show); never a provider secret. */
  error?: string;
}

/** The only writer of `messages`: a turn's messages with the answer's placeholder, and the settled answer. */
@Injectable()
export class MessagesRepository {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  /**
   * Inserts a turn's messages, oldest first, followed by an empty `incomplete` assistant row: the answer's
   * placeholder, committed before any model is called so nothing acknowledged is lost.
   * @param answerModel registry id of the model planned to answer
   * @returns the ids of the turn's messages (in order) and of the placeholder
   */
  async insertTurn(
    tx: EntityManager,
    sessionId: number,
    turns: { role: MessageRole; content: string }[],
    answerModel: string,
  ): Promise<{ messageIds: number[]; answerId: number }> {
    const rows = await tx.save(
      [
        ...turns.map((t) => tx.create(MessageEntity, { sessionId, role: t.role, content: t.content })),
        tx.create(MessageEntity, { sessionId, role: 'assistant', content: '', status: 'incomplete', model: answerModel }),
      ],
    );
    return { messageIds: rows.slice(0, -1).map((r) => r.id), answerId: rows[rows.length - 1].id };
  }

  /** Stores how an answer ended on its placeholder row. */
  async settleAnswer(tx: EntityManager, answerId: number, outcome: AnswerOutcome): Promise<void> {
    await tx.update(MessageEntity, { id: answerId }, { ...outcome, error: outcome.error ?? null });
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
