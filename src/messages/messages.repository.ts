import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { SqlStatement } from '../database/sql-statement';
import { ContentPart, textOf, toolCallsOf } from '../providers/content-parts';
import type { ModelAttempt } from '../providers/model-attempt';
import type { ChatTurn } from '../providers/model-provider';
import { MessageEntity, MessageStatus } from './message.entity';

/** The parts of a turn as stored: its `parts`, or (a text-only turn) its content as one text part. */
function partsOf(turn: Pick<ChatTurn, 'content' | 'parts'>): ContentPart[] {
  return turn.parts ?? (turn.content ? [{ type: 'text', text: turn.content }] : []);
}

/** The answering model's unit prices when an answer was priced: USD per 1M tokens, and the registry's `priced_at`. */
export interface AnswerPrices {
  inputPer1m: number;
  /** The input price when the model has no cached-input price. */
  cachedInputPer1m: number;
  outputPer1m: number;
  /** `YYYY-MM-DD`; null when the registry entry does not say. */
  pricedAt: string | null;
}

/** How an answer ended, as stored on its message. */
export interface AnswerOutcome {
  /** The text of `parts`. */
  content: string;
  /** The answer's text part (when it has text) and its tool calls. */
  parts: ContentPart[];
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
  /** The unit prices `cost` was computed with, kept with the answer so a later price change rewrites nothing. */
  prices: AnswerPrices;
  /** Why a `failed` answer failed (a sentence safe to show); never a provider secret. */
  error?: string;
}

/** The only writer of `messages`: a turn's messages with the answer's placeholder, and the settled answer. */
@Injectable()
export class MessagesRepository {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  /**
   * Adds to `stmt` a CTE `turn_messages` inserting a turn's messages, oldest first, into the session `sessionCte`
   * returns, followed by an empty `in_progress` assistant row: the answer's placeholder, committed before any model
   * is called so nothing acknowledged is lost, owned by `owner` with a fresh heartbeat. Ids follow the order (the
   * rows are produced in that order). Each message keeps its parts (a turn without `parts`: its content as one text
   * part) and, for a `tool` message, its `toolCallId`; `content` is stored as the text of the parts.
   * @param answerModel registry id of the model planned to answer
   * @param owner the instance generating the answer
   * @returns the CTE's name; it returns the rows' `id`s, the placeholder's the largest
   */
  insertTurn(
    stmt: SqlStatement,
    sessionCte: string,
    turns: Pick<ChatTurn, 'role' | 'content' | 'parts' | 'toolCallId'>[],
    answerModel: string,
    owner: string,
  ): string {
    const rows = [
      ...turns.map((t) => {
        const parts = partsOf(t);
        return { role: t.role, content: textOf(parts), parts, toolCallId: t.toolCallId ?? null, status: 'complete', model: null, owner: null };
      }),
      { role: 'assistant', content: '', parts: [], toolCallId: null, status: 'in_progress', model: answerModel, owner },
    ];
    return stmt.with(
      'turn_messages',
      `INSERT INTO messages (session_id, role, content, parts, tool_call_id, status, model, owner_instance, heartbeat_at)
       SELECT ${sessionCte}.id, t.role, t.content, t.parts, t.tool_call_id, t.status, t.model, t.owner,
              CASE WHEN t.owner IS NULL THEN NULL ELSE now() END
         FROM ${sessionCte}, unnest(${stmt.param(rows.map((r) => r.role), 'varchar[]')}, ${stmt.param(rows.map((r) => r.content), 'text[]')},
           ${stmt.param(rows.map((r) => JSON.stringify(r.parts)), 'jsonb[]')}, ${stmt.param(rows.map((r) => r.toolCallId), 'varchar[]')},
           ${stmt.param(rows.map((r) => r.status), 'varchar[]')}, ${stmt.param(rows.map((r) => r.model), 'varchar[]')},
           ${stmt.param(rows.map((r) => r.owner), 'varchar[]')})
           WITH ORDINALITY AS t(role, content, parts, tool_call_id, status, model, owner, ord)
        ORDER BY t.ord
       RETURNING id`,
    );
  }

  /**
   * Saves the text of answers still `in_progress` (as their content and their one text part) and renews their
   * heartbeat, in one statement; answers settled meanwhile are left as they are.
   * @param answers every answer this instance generates; `content` undefined where the text did not change
   */
  async checkpoint(answers: { id: number; content?: string }[]): Promise<void> {
    if (!answers.length) return;
    await this.messages.query(
      `UPDATE messages m SET content = COALESCE(c.content, m.content),
              parts = CASE WHEN c.content IS NULL THEN m.parts WHEN c.content = '' THEN '[]'::jsonb
                           ELSE jsonb_build_array(jsonb_build_object('type', 'text', 'text', c.content)) END,
              heartbeat_at = now()
         FROM unnest($1::int[], $2::text[]) AS c(id, content)
        WHERE m.id = c.id AND m.status = 'in_progress'`,
      [answers.map((a) => a.id), answers.map((a) => a.content ?? null)],
    );
  }

  /**
   * Marks answers whose instance stopped showing it is alive for longer than `leaseMs` as `incomplete`, keeping
   * their last checkpointed text.
   * @returns the ids of the answers marked
   */
  async sweepAbandoned(leaseMs: number): Promise<number[]> {
    // The owner is kept: an instance that lost only its database connection still stores the answer when it is back.
    const [rows] = await this.messages.query<[{ id: number }[], number]>(
      `UPDATE messages SET status = 'incomplete'
        WHERE status = 'in_progress' AND heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)
        RETURNING id`,
      [leaseMs],
    );
    return rows.map((r) => r.id);
  }

  /**
   * In the caller's transaction, locks an answer's row if `owner` has not stored its outcome yet (the settle clears
   * the owner), so a retried settle stores it once even when an earlier attempt committed but its reply was lost.
   * @returns true when the answer still waits for its outcome
   */
  async lockUnsettled(tx: Pick<EntityManager, 'query'>, answerId: number, owner: string): Promise<boolean> {
    const rows: unknown[] = await tx.query(`SELECT 1 FROM messages WHERE id = $1 AND owner_instance = $2 FOR UPDATE`, [answerId, owner]);
    return rows.length > 0;
  }

  /**
   * The ids of the tool calls of a session's newest answer (what a `tool` message may answer without repeating the
   * call in its request); empty when it has none.
   */
  async lastAnswerToolCallIds(sessionId: number): Promise<string[]> {
    const rows: { parts: ContentPart[] }[] = await this.messages.query(
      `SELECT parts FROM messages WHERE session_id = ANY($1::integer[]) AND role = 'assistant' ORDER BY session_id DESC, id DESC LIMIT 1`,
      [[sessionId]],
    );
    return toolCallsOf(rows[0]?.parts).map((c) => c.id);
  }

  /** An answer (assistant message) of one of the user's sessions, or null. */
  async findOwnedAnswer(userId: number, id: number): Promise<MessageEntity | null> {
    return this.messages
      .createQueryBuilder('m')
      .innerJoin('chat_sessions', 's', 's.id = m.session_id')
      .where('m.id = :id AND s.user_id = :userId AND m.role = :role', { id, userId, role: 'assistant' })
      .getOne();
  }

  /** Adds to `stmt` a CTE `answer` storing how an answer ended on its placeholder row. */
  settleAnswer(stmt: SqlStatement, answerId: number, o: AnswerOutcome): string {
    return stmt.with(
      'answer',
      `UPDATE messages SET owner_instance = NULL, content = ${stmt.param(o.content, 'text')},
         parts = ${stmt.param(JSON.stringify(o.parts), 'jsonb')}, status = ${stmt.param(o.status, 'varchar')},
         finish_reason = ${stmt.param(o.finishReason, 'varchar')}, model = ${stmt.param(o.model, 'varchar')},
         attempts = ${stmt.param(JSON.stringify(o.attempts), 'jsonb')},
         tokens_input = ${stmt.param(o.tokensInput, 'integer')}, tokens_output = ${stmt.param(o.tokensOutput, 'integer')},
         tokens_cached = ${stmt.param(o.tokensCached, 'integer')}, tokens_reasoning = ${stmt.param(o.tokensReasoning, 'integer')},
         usage_estimated = ${stmt.param(o.usageEstimated, 'boolean')}, cost = ${stmt.param(o.cost, 'numeric')},
         price_input_per_1m = ${stmt.param(o.prices.inputPer1m, 'numeric')},
         price_cached_input_per_1m = ${stmt.param(o.prices.cachedInputPer1m, 'numeric')},
         price_output_per_1m = ${stmt.param(o.prices.outputPer1m, 'numeric')}, priced_at = ${stmt.param(o.prices.pricedAt, 'date')},
         error = ${stmt.param(o.error ?? null, 'text')}
       WHERE id = ${stmt.param(answerId, 'integer')} RETURNING id`,
    );
  }

  /**
   * One page of a session's messages after `afterId`, oldest first, by keyset on (session_id, id).
   * @param offset messages skipped after `afterId` (page numbers)
   * @returns up to `limit` messages and whether more follow
   */
  async page(sessionId: number, afterId: number, limit: number, offset = 0): Promise<{ items: MessageEntity[]; more: boolean }> {
    // `= ANY(array)` instead of `=`: with a constant session id the planner treats the order as plain `id` and may
    // walk the primary key past other sessions' rows; this way it reads the page from the (session_id, id) index,
    // so a page of a 100,000-message session costs what a page of a short one does.
    const rows = await this.messages
      .createQueryBuilder('m')
      .where('m.session_id = ANY(:ids) AND m.id > :afterId', { ids: [sessionId], afterId })
      .orderBy('m.session_id', 'ASC')
      .addOrderBy('m.id', 'ASC')
      .skip(offset)
      .take(limit + 1)
      .getMany();
    return { items: rows.slice(0, limit), more: rows.length > limit };
  }
}
