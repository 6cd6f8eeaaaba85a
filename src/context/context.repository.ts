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
   * The newest `limit` messages with text after message `afterId`, oldest first, and how many there are in all
   * (so the caller knows how many older ones it did not load).
   */
  async newestMessages(sessionId: number, afterId: number, limit: number): Promise<{ messages: CandidateMessage[]; total: number }> {
    const rows: { id: number; role: CandidateMessage['role']; content: string; total: string }[] = await this.db.query(
      `SELECT id, role, content, count(*) OVER () AS total FROM messages
        WHERE session_id = $1 AND id > $2 AND content <> '' ORDER BY id DESC LIMIT $3`,
      [sessionId, afterId, limit],
    );
    return { messages: rows.reverse().map(({ id, role, content }) => ({ id, role, content })), total: Number(rows[0]?.total ?? 0) };
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
