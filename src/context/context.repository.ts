import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { branchWalk } from '../database/branch-walk';
import type { ContentPart } from '../providers/content-parts';
import type { CandidateMessage } from './context-builder';

/** The session fields summaries are made from. */
export interface SummaryState {
  id: number;
  model: string;
  summary: string | null;
  summaryMessageId: number | null;
}

/**
 * Whether a stored message counts: it has text, images or tool calls, or it is a tool result (which may be empty).
 * An answer that failed before its first piece has none, and one still being produced is not history yet (its
 * text so far is saved now and then): neither is sent to a model.
 */
const COUNTS = `(status <> 'in_progress' AND (content <> '' OR role = 'tool' OR parts @> '[{"type":"tool_call"}]' OR parts @> '[{"type":"image"}]'))`;

/** The columns a candidate message is read from. */
const CANDIDATE = 'id, role, content, parts, tool_call_id';
const CANDIDATE_COLUMNS = ['id', 'role', 'content', 'parts', 'tool_call_id', 'status'];

/** A `messages` row as read for a context. */
interface CandidateRow {
  id: number;
  role: CandidateMessage['role'];
  content: string;
  parts: ContentPart[];
  tool_call_id: string | null;
}

function candidateOf(row: CandidateRow): CandidateMessage {
  return { id: row.id, role: row.role, content: row.content, parts: row.parts, toolCallId: row.tool_call_id };
}

/**
 * What contexts and summaries read from PostgreSQL (read only: summaries are stored by the chats module's
 * repository). Messages with nothing to send (no text, image, tool call, nor a tool result) never count.
 */
@Injectable()
export class ContextRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * The newest `limit` messages that count on the branch ending at message `tip`, after message `afterId`, oldest
   * first: read by walking up from `tip` ({@link branchWalk}), so as fast in a session of 100,000 messages (or
   * many branches) as in one of 100.
   * @param tip the branch's newest message (a session's active leaf, or where an edit or a regenerated answer
   *        goes); null: none
   * @param countOlder also count the messages that count older than those loaded (a second walk, only when the
   *        limit was reached): what a preview reports as dropped; a send doesn't need it
   * @returns the messages, how many older ones were not loaded (0 when not counted), and the message a new turn
   *          follows: `tip`, or its question when `tip` is an answer still in progress
   */
  async newestMessages(
    tip: number | null,
    afterId: number,
    limit: number,
    countOlder = false,
  ): Promise<{ messages: CandidateMessage[]; olderNotLoaded: number; follows: number | null }> {
    if (tip === null) return { messages: [], olderNotLoaded: 0, follows: null };
    // One round trip: the page, and where a new turn goes (past an answer still in progress, which it was not
    // answered with). An answer's parent is its question, which is never in progress.
    const rows: (Partial<CandidateRow> & { follows: number })[] = await this.db.query(
      `WITH RECURSIVE ${branchWalk('branch', CANDIDATE_COLUMNS, '$1', '$2')},
       page AS (SELECT ${CANDIDATE} FROM branch WHERE ${COUNTS} LIMIT $3)
       SELECT t.follows, page.* FROM (
         SELECT CASE WHEN status = 'in_progress' THEN parent_id ELSE id END AS follows FROM messages WHERE id = $1
       ) t LEFT JOIN page ON true`,
      [tip, afterId, Math.max(limit, 0)],
    );
    const follows = rows.length > 0 ? rows[0].follows : tip;
    const messages = rows
      .filter((r): r is CandidateRow & { follows: number } => r.id !== null && r.id !== undefined)
      .sort((a, b) => a.id - b.id)
      .map(candidateOf);
    let olderNotLoaded = 0;
    if (countOlder && limit > 0 && messages.length === limit) {
      const [{ n }]: { n: string }[] = await this.db.query(
        `WITH RECURSIVE ${branchWalk('branch', CANDIDATE_COLUMNS, '$1', '$2')}
         SELECT count(*) AS n FROM branch WHERE id < $3 AND ${COUNTS}`,
        [tip, afterId, messages[0].id],
      );
      olderNotLoaded = Number(n);
    }
    return { messages, olderNotLoaded, follows };
  }

  /** @returns how many messages that count the branch ending at message `lastId` has (what a summary stands for) */
  async countMessagesUpTo(lastId: number): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      `WITH RECURSIVE ${branchWalk('branch', CANDIDATE_COLUMNS, '$1', '0')} SELECT count(*) AS n FROM branch WHERE ${COUNTS}`,
      [lastId],
    );
    return Number(rows[0].n);
  }

  /** @returns the session's summary state, or null when it is gone */
  async summaryState(sessionId: number): Promise<SummaryState | null> {
    const rows: { id: number; model: string; summary: string | null; summary_message_id: number | null }[] = await this.db.query(
      'SELECT id, model, summary, summary_message_id FROM chat_sessions WHERE id = $1',
      [sessionId],
    );
    const row = rows[0];
    return row ? { id: row.id, model: row.model, summary: row.summary, summaryMessageId: row.summary_message_id } : null;
  }

  /**
   * Messages that count on the session's active branch after `afterId` except the newest `keep` ones (the
   * verbatim window), oldest first: what the next summary folds in.
   */
  async messagesOutsideWindow(sessionId: number, afterId: number, keep: number): Promise<CandidateMessage[]> {
    const rows: CandidateRow[] = await this.db.query(
      `WITH RECURSIVE ${branchWalk('branch', CANDIDATE_COLUMNS, '(SELECT active_leaf_id FROM chat_sessions WHERE id = $1)', '$2')}
       SELECT ${CANDIDATE} FROM (
         SELECT ${CANDIDATE}, row_number() OVER (ORDER BY id DESC) AS newest FROM branch WHERE ${COUNTS}
       ) m WHERE newest > $3 ORDER BY id ASC`,
      [sessionId, afterId, keep],
    );
    return rows.map(candidateOf);
  }
}
