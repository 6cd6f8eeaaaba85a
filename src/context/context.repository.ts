import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
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
 * An answer still being produced, or one that failed before its first piece, has none: it is not sent to a model.
 */
const COUNTS = `(content <> '' OR role = 'tool' OR parts @> '[{"type":"tool_call"}]' OR parts @> '[{"type":"image"}]')`;

/** The columns a candidate message is read from. */
const CANDIDATE = 'id, role, content, parts, tool_call_id';

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
   * The newest `limit` messages that count after message `afterId`, oldest first, read backwards on the
   * (session_id, id) index: as fast in a session of 100,000 messages as in one of 100. (`= ANY(array)` instead of
   * `=`: with a constant session id the planner may walk the primary key backwards past every other session's
   * newer rows.)
   * @param countOlder also count the messages that count older than those loaded (a second query, only when the
   *        limit was reached): what a preview reports as dropped; a send doesn't need it
   * @returns the messages and how many older ones were not loaded (0 when not counted)
   */
  async newestMessages(
    sessionId: number,
    afterId: number,
    limit: number,
    countOlder = false,
  ): Promise<{ messages: CandidateMessage[]; olderNotLoaded: number }> {
    const rows: CandidateRow[] = await this.db.query(
      `SELECT ${CANDIDATE} FROM messages
        WHERE session_id = ANY($1::integer[]) AND id > $2 AND ${COUNTS} ORDER BY session_id DESC, id DESC LIMIT $3`,
      [[sessionId], afterId, limit],
    );
    const messages = rows.reverse().map(candidateOf);
    let olderNotLoaded = 0;
    if (countOlder && messages.length === limit && limit > 0) {
      const [{ n }]: { n: string }[] = await this.db.query(
        `SELECT count(*) AS n FROM messages WHERE session_id = $1 AND id > $2 AND id < $3 AND ${COUNTS}`,
        [sessionId, afterId, messages[0].id],
      );
      olderNotLoaded = Number(n);
    }
    return { messages, olderNotLoaded };
  }

  /** @returns how many messages that count the session has up to message `lastId` (what a summary stands for) */
  async countMessagesUpTo(sessionId: number, lastId: number): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      `SELECT count(*) AS n FROM messages WHERE session_id = $1 AND id <= $2 AND ${COUNTS}`,
      [sessionId, lastId],
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
   * Messages that count after `afterId` except the newest `keep` ones (the verbatim window), oldest first: what
   * the next summary folds in.
   */
  async messagesOutsideWindow(sessionId: number, afterId: number, keep: number): Promise<CandidateMessage[]> {
    const rows: CandidateRow[] = await this.db.query(
      `SELECT ${CANDIDATE} FROM (
         SELECT ${CANDIDATE}, row_number() OVER (ORDER BY id DESC) AS newest
           FROM messages WHERE session_id = $1 AND id > $2 AND ${COUNTS}
       ) m WHERE newest > $3 ORDER BY id ASC`,
      [sessionId, afterId, keep],
    );
    return rows.map(candidateOf);
  }
}
