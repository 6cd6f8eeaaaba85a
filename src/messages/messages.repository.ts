import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { branchWalk } from '../database/branch-walk';
import { EntityRows } from '../database/entity-rows';
import { SqlStatement } from '../database/sql-statement';
import { ContentPart, textOf, toolCallsOf } from '../providers/content-parts';
import type { ModelAttempt } from '../providers/model-attempt';
import type { ChatTurn } from '../providers/model-provider';
import { MessageEntity, MessageRole, MessageStatus } from './message.entity';

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

/** A message of an imported tree, as stored. */
export interface ImportedMessage {
  /** Index in the imported list of the message this one follows (an earlier one), or null. */
  parentIndex: number | null;
  role: MessageRole;
  content: string;
  parts: ContentPart[];
  toolCallId: string | null;
  model: string | null;
  status: MessageStatus;
  finishReason: string | null;
  tokensInput: number;
  tokensOutput: number;
  tokensCached: number;
  tokensReasoning: number;
  usageEstimated: boolean;
  /** USD */
  cost: number;
  createdAt: Date;
}

/** A message with its place among its siblings (the messages with the same parent: alternative versions). */
export interface MessageInTree {
  message: MessageEntity;
  /** 0-based, oldest first. */
  siblingIndex: number;
  /** 1 when the message has no alternative. */
  siblingCount: number;
}

/**
 * A LATERAL subquery of `m`'s siblings, itself included: `sibling_index` (0-based, by id) and `sibling_count`.
 * First messages (no parent) are siblings of each other, found on a partial index, not by walking the session.
 */
const SIBLINGS = `(
  SELECT (count(*) FILTER (WHERE s.id < m.id))::integer AS sibling_index, count(*)::integer AS sibling_count
    FROM (SELECT id FROM messages WHERE parent_id = m.parent_id
          UNION ALL
          SELECT id FROM messages WHERE m.parent_id IS NULL AND session_id = m.session_id AND parent_id IS NULL) s
)`;

/** The only writer of `messages`: a turn's messages with the answer's placeholder, and the settled answer. */
@Injectable()
export class MessagesRepository {
  /** Messages read by hand-written SQL (branch walks). */
  private readonly rows: EntityRows<MessageEntity>;

  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {
    this.rows = new EntityRows(messages);
  }

  /**
   * Adds to `stmt` a CTE `turn_ids` drawing the ids of a turn's `count` new messages from the messages' sequence,
   * ascending (so a child's id is larger than its parent's): the session's new active leaf is known before the
   * rows are written, in the same statement.
   * @returns the CTE's name; it returns `id` and `ord` (1..count)
   */
  allocateTurnIds(stmt: SqlStatement, count: number): string {
    return stmt.with(
      'turn_ids',
      // Ranked by value, so the ids ascend with `ord` whatever order the rows were drawn in.
      `SELECT id, row_number() OVER (ORDER BY id) AS ord
         FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id'))::integer AS id
                 FROM generate_series(1, ${stmt.param(count, 'integer')})) drawn`,
    );
  }

  /**
   * Adds to `stmt` a CTE `turn_messages` inserting a turn's messages, oldest first, into the session `sessionCte`
   * returns, followed by an empty `in_progress` assistant row: the answer's placeholder, committed before any model
   * is called so nothing acknowledged is lost, owned by `owner` with a fresh heartbeat. The rows take the ids of
   * `idsCte` ({@link allocateTurnIds}) and form a chain: the first follows `parent`, each next one the one before.
   * Each message keeps its parts (a turn without `parts`: its content as one text part) and, for a `tool` message,
   * its `toolCallId`; `content` is stored as the text of the parts.
   * @param parent the message the first one follows, or null (a first message)
   * @param answerModel registry id of the model planned to answer
   * @param owner the instance generating the answer
   * @returns the CTE's name; it returns the rows' `id`s, the placeholder's the largest
   */
  insertTurn(
    stmt: SqlStatement,
    sessionCte: string,
    idsCte: string,
    parent: number | null,
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
    const first = stmt.param(parent, 'integer');
    return stmt.with(
      'turn_messages',
      `INSERT INTO messages (id, parent_id, session_id, role, content, parts, tool_call_id, status, model, owner_instance, heartbeat_at)
       SELECT i.id, COALESCE(previous.id, ${first}), ${sessionCte}.id, t.role, t.content, t.parts, t.tool_call_id, t.status, t.model, t.owner,
              CASE WHEN t.owner IS NULL THEN NULL ELSE now() END
         FROM ${sessionCte}, unnest(${stmt.param(rows.map((r) => r.role), 'varchar[]')}, ${stmt.param(rows.map((r) => r.content), 'text[]')},
           ${stmt.param(rows.map((r) => JSON.stringify(r.parts)), 'jsonb[]')}, ${stmt.param(rows.map((r) => r.toolCallId), 'varchar[]')},
           ${stmt.param(rows.map((r) => r.status), 'varchar[]')}, ${stmt.param(rows.map((r) => r.model), 'varchar[]')},
           ${stmt.param(rows.map((r) => r.owner), 'varchar[]')})
           WITH ORDINALITY AS t(role, content, parts, tool_call_id, status, model, owner, ord)
         JOIN ${idsCte} i ON i.ord = t.ord
         LEFT JOIN ${idsCte} previous ON previous.ord = t.ord - 1
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
   * The ids of the tool calls of the newest answer on the branch ending at message `tip` (what a `tool` message may
   * answer without repeating the call in its request); empty when it has none.
   */
  async lastAnswerToolCallIds(tip: number | null): Promise<string[]> {
    if (tip === null) return [];
    const rows: { parts: ContentPart[] }[] = await this.messages.query(
      `WITH RECURSIVE ${branchWalk('branch', ['role', 'parts'], '$1', '0')} SELECT parts FROM branch WHERE role = 'assistant' LIMIT 1`,
      [tip],
    );
    return toolCallsOf(rows[0]?.parts).map((c) => c.id);
  }

  /** A message (any role) of one of the user's sessions, or null. */
  async findOwned(userId: number, id: number): Promise<MessageEntity | null> {
    const rows: Record<string, unknown>[] = await this.messages.query(
      `SELECT ${this.columnsOf('m')} FROM messages m JOIN chat_sessions s ON s.id = m.session_id WHERE m.id = $1 AND s.user_id = $2`,
      [id, userId],
    );
    return rows.length ? this.rows.hydrate(rows[0]) : null;
  }

  /**
   * The newest leaf of the subtree of message `id` in session `sessionId`: the largest id among it and its
   * descendants (a child's id is larger than its parent's, so that message has no children).
   * @returns its id, or null when `id` is not a message of the session
   */
  async newestLeafUnder(sessionId: number, id: number): Promise<number | null> {
    const [row]: { leaf: number | null }[] = await this.messages.query(
      `WITH RECURSIVE subtree AS (
         SELECT id FROM messages WHERE id = $2 AND session_id = $1
         UNION ALL
         SELECT c.id FROM messages c JOIN subtree t ON c.parent_id = t.id
       ) SELECT max(id) AS leaf FROM subtree`,
      [sessionId, id],
    );
    return row.leaf;
  }

  /** @returns whether message `id` is on the branch ending at message `tip` (`tip` itself included) */
  async isOnBranch(tip: number, id: number): Promise<boolean> {
    const [row]: { found: boolean }[] = await this.messages.query(
      `WITH RECURSIVE ${branchWalk('branch', ['id'], '$1', '$2::integer - 1')} SELECT EXISTS (SELECT 1 FROM branch WHERE id = $2) AS found`,
      [tip, id],
    );
    return row.found;
  }

  /**
   * In the caller's transaction, copies the branch ending at message `leafId` (its first message to it) into
   * session `toSessionId` as one chain with new ids, each copy keeping its role, parts, model, usage, prices and
   * time. An answer still in progress is copied as `incomplete` with its text so far.
   * @returns how many messages were copied and the id of the last copy
   */
  async copyBranch(tx: EntityManager, leafId: number, toSessionId: number): Promise<{ count: number; leafId: number }> {
    const copied = [
      'role', 'content', 'parts', 'tool_call_id', 'model', 'finish_reason', 'tokens_input', 'tokens_output', 'tokens_cached',
      'tokens_reasoning', 'usage_estimated', 'cost', 'price_input_per_1m', 'price_cached_input_per_1m', 'price_output_per_1m',
      'priced_at', 'error', 'attempts', 'created_at',
    ];
    const rows: { id: number }[] = await tx.query(
      `WITH RECURSIVE ${branchWalk('branch', ['id', 'status', ...copied], '$1', '0')},
       ordered AS (SELECT b.*, row_number() OVER (ORDER BY b.id) AS ord FROM branch b),
       ids AS (SELECT id, row_number() OVER (ORDER BY id) AS ord
                 FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id'))::integer AS id FROM ordered) drawn)
       INSERT INTO messages (id, parent_id, session_id, status, ${copied.join(', ')})
       SELECT i.id, previous.id, $2, CASE WHEN o.status = 'in_progress' THEN 'incomplete' ELSE o.status END,
              ${copied.map((c) => `o.${c}`).join(', ')}
         FROM ordered o JOIN ids i ON i.ord = o.ord LEFT JOIN ids previous ON previous.ord = o.ord - 1
        ORDER BY o.ord
       RETURNING id`,
      [leafId, toSessionId],
    );
    return { count: rows.length, leafId: Math.max(...rows.map((r) => r.id)) };
  }

  /**
   * Every message of a session, every branch, by id (a parent before its children).
   * @param limit at most this many are read; one more than `limit` tells a caller the session has too many
   */
  async wholeTree(sessionId: number, limit: number): Promise<MessageEntity[]> {
    const rows: Record<string, unknown>[] = await this.messages.query(
      `SELECT ${this.columnsOf('m')} FROM messages m WHERE m.session_id = ANY($1::integer[]) ORDER BY m.session_id, m.id LIMIT $2`,
      [[sessionId], limit],
    );
    return rows.map((r) => this.rows.hydrate(r));
  }

  /**
   * The session's active branch, from its first message to its active leaf.
   * @param limit at most this many of its newest are read; one more than `limit` tells a caller it is too long
   */
  async activeBranch(sessionId: number, limit: number): Promise<MessageEntity[]> {
    const rows: Record<string, unknown>[] = await this.messages.query(
      `WITH RECURSIVE ${branchWalk('branch', ['id'], '(SELECT active_leaf_id FROM chat_sessions WHERE id = $1)', '0')}
       SELECT ${this.columnsOf('m')} FROM (SELECT id FROM branch LIMIT $2) b JOIN messages m ON m.id = b.id ORDER BY m.id`,
      [sessionId, limit],
    );
    return rows.map((r) => this.rows.hydrate(r));
  }

  /**
   * In the caller's transaction, inserts an imported tree into session `sessionId` with new ids: each message
   * follows the one at index `parentIndex` of `messages` (an earlier one), or none.
   * @returns the new ids, in the order of `messages`
   */
  async importTree(tx: EntityManager, sessionId: number, messages: ImportedMessage[]): Promise<number[]> {
    if (!messages.length) return [];
    const column = <K extends keyof ImportedMessage>(key: K) => messages.map((m) => m[key]);
    const rows: { id: number }[] = await tx.query(
      `WITH ids AS (
         SELECT id, row_number() OVER (ORDER BY id) AS ord
           FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id'))::integer AS id FROM generate_series(1, $2::integer)) drawn
       )
       INSERT INTO messages (id, parent_id, session_id, role, content, parts, tool_call_id, model, status, finish_reason,
                             tokens_input, tokens_output, tokens_cached, tokens_reasoning, usage_estimated, cost, created_at)
       SELECT i.id, parent.id, $1, t.role, t.content, t.parts, t.tool_call_id, t.model, t.status, t.finish_reason,
              t.tokens_input, t.tokens_output, t.tokens_cached, t.tokens_reasoning, t.usage_estimated, t.cost, t.created_at
         FROM unnest($3::integer[], $4::varchar[], $5::text[], $6::jsonb[], $7::varchar[], $8::varchar[], $9::varchar[],
                     $10::varchar[], $11::integer[], $12::integer[], $13::integer[], $14::integer[], $15::boolean[],
                     $16::numeric[], $17::timestamptz[])
              WITH ORDINALITY AS t(parent_ord, role, content, parts, tool_call_id, model, status, finish_reason, tokens_input,
                                   tokens_output, tokens_cached, tokens_reasoning, usage_estimated, cost, created_at, ord)
         JOIN ids i ON i.ord = t.ord
         LEFT JOIN ids parent ON parent.ord = t.parent_ord
        ORDER BY t.ord
       RETURNING id`,
      [
        sessionId,
        messages.length,
        messages.map((m) => (m.parentIndex === null ? null : m.parentIndex + 1)),
        column('role'),
        column('content'),
        messages.map((m) => JSON.stringify(m.parts)),
        column('toolCallId'),
        column('model'),
        column('status'),
        column('finishReason'),
        column('tokensInput'),
        column('tokensOutput'),
        column('tokensCached'),
        column('tokensReasoning'),
        column('usageEstimated'),
        column('cost'),
        column('createdAt'),
      ],
    );
    return rows.map((r) => r.id).sort((a, b) => a - b);
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
   * One page of the session's active branch (its first message to its active leaf) after message `afterId`, oldest
   * first, each message with its place among its siblings. Walks up from the active leaf down to `afterId`
   * ({@link branchWalk}): the newest page costs the same however long the session is or however many branches it
   * has; the first page of a long branch walks all of it.
   * @param offset messages skipped after `afterId` (page numbers)
   * @returns up to `limit` messages and whether more follow
   */
  async branchPage(sessionId: number, afterId: number, limit: number, offset = 0): Promise<{ items: MessageInTree[]; more: boolean }> {
    const rows: Record<string, unknown>[] = await this.messages.query(
      `WITH RECURSIVE ${branchWalk('branch', ['id'], '(SELECT active_leaf_id FROM chat_sessions WHERE id = $1)', '$2')}
       SELECT ${this.columnsOf('m')}, sib.sibling_index, sib.sibling_count
         FROM (SELECT id FROM branch ORDER BY id LIMIT $3 OFFSET $4) b
         JOIN messages m ON m.id = b.id
         CROSS JOIN LATERAL ${SIBLINGS} sib
        ORDER BY m.id`,
      [sessionId, afterId, limit + 1, offset],
    );
    return this.toPage(rows, limit);
  }

  /**
   * One page of every message of the session, on every branch, after message `afterId`, by id (so a parent comes
   * before its children), each with its place among its siblings; read by keyset on (session_id, id).
   * @param offset messages skipped after `afterId` (page numbers)
   */
  async treePage(sessionId: number, afterId: number, limit: number, offset = 0): Promise<{ items: MessageInTree[]; more: boolean }> {
    // `= ANY(array)`: see ContextRepository.newestMessages; the (session_id, id) index gives the page.
    const rows: Record<string, unknown>[] = await this.messages.query(
      `SELECT ${this.columnsOf('m')}, sib.sibling_index, sib.sibling_count
         FROM messages m CROSS JOIN LATERAL ${SIBLINGS} sib
        WHERE m.session_id = ANY($1::integer[]) AND m.id > $2
        ORDER BY m.session_id, m.id LIMIT $3 OFFSET $4`,
      [[sessionId], afterId, limit + 1, offset],
    );
    return this.toPage(rows, limit);
  }

  /** Rows of a page read with one more than `limit`: the entities with their sibling places, and whether more follow. */
  private toPage(rows: Record<string, unknown>[], limit: number): { items: MessageInTree[]; more: boolean } {
    const items = rows.slice(0, limit).map((r) => ({
      message: this.rows.hydrate(r),
      siblingIndex: Number(r.sibling_index),
      siblingCount: Number(r.sibling_count),
    }));
    return { items, more: rows.length > limit };
  }

  private columnsOf(alias: string): string {
    return this.rows.columns
      .split(', ')
      .map((c) => `${alias}.${c}`)
      .join(', ');
  }
}
