import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { CandidateMessage } from './context-builder';

/** The session fields summaries are made from. */
export interface SummaryState {
  id: number;
  model: string;
  summary: string | null;
  summaryMessageId: number | null;
}

/**
 * What contexts and summaries read from PostgreSQL (read only: summaries are stored by the chats module's
 * repository). Messages without text (an answer still being produced, or one that failed before its first piece)
 * never count: they are not sent to a model either.
 */
@Injectable()
export class ContextRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * The newest `limit` messages with text after message `afterId`, oldest first, read backwards on the
   * (session_id, id) index: as fast in a session of 100,000 messages as in one of 100. (`= ANY(array)` instead of
   * `=`: with a constant session id the planner may walk the primary key backwards past every other session's
   * newer rows.)
   * @param countOlder also count the messages with text older than those loaded (a second query, only when the
   *        limit was reached): what a preview reports as dropped; a send doesn't need it
   * @returns the messages and how many older ones were not loaded (0 when not counted)
   */
  async newestMessages(
    sessionId: number,
    afterId: number,
    limit: number,
    countOlder = false,
  ): Promise<{ messages: CandidateMessage[]; olderNotLoaded: number }> {
    const rows: { id: number; role: CandidateMessage['role']; content: string }[] = await this.db.query(
      `SELECT id, role, content FROM messages
        WHERE session_id = ANY($1::integer[]) AND id > $2 AND content <> '' ORDER BY session_id DESC, id DESC LIMIT $3`,
      [[sessionId], afterId, limit],
    );
    const messages = rows.reverse();
    let olderNotLoaded = 0;
    if (countOlder && messages.length === limit && limit > 0) {
      const [{ n }]: { n: string }[] = await this.db.query(
        "SELECT count(*) AS n FROM messages WHERE session_id = $1 AND id > $2 AND id < $3 AND content <> ''",
        [sessionId, afterId, messages[0].id],
      );
      olderNotLoaded = Number(n);
    }
    return { messages, olderNotLoaded };
  }

  /** @returns how many messages with text the session has up to message `lastId` (what a summary stands for) */
  async countMessagesUpTo(sessionId: number, lastId: number): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      "SELECT count(*) AS n FROM messages WHERE session_id = $1 AND id <= $2 AND content <> ''",
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
   * Messages with text after `afterId` except the newest `keep` ones (the verbatim window), oldest first: what
   * the next summary folds in.
   */
  async messagesOutsideWindow(sessionId: number, afterId: number, keep: number): Promise<CandidateMessage[]> {
    return this.db.query(
      `SELECT id, role, content FROM (
         SELECT id, role, content, row_number() OVER (ORDER BY id DESC) AS newest
           FROM messages WHERE session_id = $1 AND id > $2 AND content <> ''
       ) m WHERE newest > $3 ORDER BY id ASC`,
      [sessionId, afterId, keep],
    );
  }
}
