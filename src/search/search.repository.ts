import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, appConfig } from '../config/app-config';
import { SqlStatement } from '../database/sql-statement';
import { headlineOptions, MARKER_CHARACTERS } from './snippet';

/** A full-text query's placeholders in one statement: made once, used wherever the statement needs them. */
export interface TextQuery {
  /** `websearch_to_tsquery(language, text)`: never fails, whatever the text. */
  tsquery: string;
  /**
   * True when the query names a word an index can look for. A query of stop words only ("the") or of excluded words
   * only ("-lamp") is not: it finds nothing rather than scanning every message.
   */
  searchable: string;
}

/** A matching message of `GET /v1/chat/search`. */
export interface MessageHitRow {
  id: number;
  session_id: number;
  session_title: string | null;
  role: string;
  rank: number;
  created_at: Date;
  /** `ts_headline`'s passages, with the markers of `snippet.ts`. */
  headline: string;
}

/** The columns of the CTE {@link SearchRepository.addSessionHits} adds, one row per session with a matching message. */
export interface SessionHitColumns {
  session_id: number;
  /** The best matching message's rank. */
  best: number;
  message_count: number;
  /** Best first. */
  message_ids: number[];
}

/** The generated column's expression for a text search configuration; a name checked against `pg_ts_config`. */
function vectorExpression(language: string): string {
  return `CASE WHEN status = 'in_progress' THEN NULL ELSE to_tsvector('${language}'::regconfig, content) END`;
}

/**
 * Full-text search of messages in PostgreSQL: `messages.search_vector` (generated from `content`, GIN-indexed; see
 * migration MessageSearch) is matched with `websearch_to_tsquery`, ranked with `ts_rank` and cut into snippets with
 * `ts_headline` (PostgreSQL docs, chapter 12), always in the configured `search.language`. Every read takes the
 * owner's id or conditions on the owner's sessions, so another user's messages are never matched. Owns the
 * column's definition; writes no rows.
 */
@Injectable()
export class SearchRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** Adds `text` as a full-text query to `stmt`. */
  textQuery(stmt: SqlStatement, text: string): TextQuery {
    const tsquery = `websearch_to_tsquery(${stmt.param(this.config.search.language, 'regconfig')}, ${stmt.param(text, 'text')})`;
    return { tsquery, searchable: `querytree(${tsquery}) NOT IN ('', 'T')` };
  }

  /**
   * Adds to `stmt` the CTEs `message_hits` (every matching message of the sessions `sessionConditions` selects) and
   * `session_hits` ({@link SessionHitColumns}, one row per session with a match).
   * @param sessionConditions a condition on `chat_sessions s` that includes the owner (`s.user_id = …`)
   * @param idsPerSession most message ids kept per session
   * @returns the name of the CTE with one row per session
   */
  addSessionHits(stmt: SqlStatement, q: TextQuery, sessionConditions: string, idsPerSession: number): string {
    stmt.with(
      'message_hits',
      `SELECT m.session_id, m.id, ts_rank(m.search_vector, ${q.tsquery}) AS rank
         FROM chat_sessions s JOIN messages m ON m.session_id = s.id
        WHERE ${sessionConditions} AND m.search_vector @@ ${q.tsquery} AND ${q.searchable}`,
    );
    return stmt.with(
      'session_hits',
      `SELECT session_id, max(rank) AS best, count(*)::int AS message_count,
              (array_agg(id ORDER BY rank DESC, id DESC))[1:${stmt.param(idsPerSession, 'integer')}] AS message_ids
         FROM message_hits GROUP BY session_id`,
    );
  }

  /**
   * @param messageId SQL giving the id of a message the caller owns (already matched, so already owned)
   * @returns SQL giving that message's `ts_headline` passages for `q` (null when the id is null)
   */
  headlineOf(stmt: SqlStatement, q: TextQuery, messageId: string): string {
    const { snippet_max_words: words, snippet_fragments: fragments } = this.config.search;
    return `(SELECT ts_headline(${stmt.param(this.config.search.language, 'regconfig')},
               translate(hm.content, ${stmt.param(MARKER_CHARACTERS, 'text')}, ''), ${q.tsquery},
               ${stmt.param(headlineOptions(words, fragments), 'text')})
             FROM messages hm WHERE hm.id = ${messageId})`;
  }

  /**
   * One page of the user's messages matching `text`, best first (`ts_rank`, then newest), in sessions that are
   * archived or not as asked.
   * @returns the page and how many messages match in all
   */
  async findMessageHits(
    userId: number,
    text: string,
    archived: boolean,
    limit: number,
    offset: number,
  ): Promise<{ total: number; hits: MessageHitRow[] }> {
    const stmt = new SqlStatement();
    const q = this.textQuery(stmt, text);
    stmt.with(
      'hits',
      `SELECT m.id, m.session_id, s.title AS session_title, m.role, m.created_at, ts_rank(m.search_vector, ${q.tsquery}) AS rank
         FROM chat_sessions s JOIN messages m ON m.session_id = s.id
        WHERE s.user_id = ${stmt.param(userId, 'integer')} AND s.archived_at IS ${archived ? 'NOT NULL' : 'NULL'}
          AND m.search_vector @@ ${q.tsquery} AND ${q.searchable}`,
    );
    stmt.with(
      'page',
      `SELECT * FROM hits ORDER BY rank DESC, id DESC LIMIT ${stmt.param(limit, 'integer')} OFFSET ${stmt.param(offset, 'integer')}`,
    );
    stmt.with('total', 'SELECT count(*)::int AS total FROM hits');
    const rows = await stmt.run<Omit<MessageHitRow, 'id'> & { total: number; id: number | null }>(
      this.db,
      `SELECT total.total, page.*, ${this.headlineOf(stmt, q, 'page.id')} AS headline
         FROM total LEFT JOIN page ON true ORDER BY page.rank DESC, page.id DESC`,
    );
    const hits = rows.filter((r): r is typeof r & { id: number } => r.id !== null);
    return { total: rows[0].total, hits };
  }

  /** The text search configurations PostgreSQL knows by an unqualified name (`english`, `simple`, …), sorted. */
  async textSearchConfigs(): Promise<string[]> {
    const rows: { name: string }[] = await this.db.query(
      'SELECT cfgname AS name FROM pg_ts_config WHERE pg_ts_config_is_visible(oid) ORDER BY cfgname',
    );
    return rows.map((r) => r.name);
  }

  /** The text search configuration `messages.search_vector` is generated with; null when the column is missing. */
  async vectorLanguage(db: Pick<DataSource, 'query'> = this.db): Promise<string | null> {
    const rows: { expr: string }[] = await db.query(
      `SELECT pg_get_expr(d.adbin, d.adrelid) AS expr
         FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'messages'::regclass AND a.attname = 'search_vector' AND NOT a.attisdropped`,
    );
    return rows.length ? (/to_tsvector\('([^']+)'::regconfig/.exec(rows[0].expr)?.[1] ?? null) : null;
  }

  /**
   * Generates `messages.search_vector` (and its GIN index) anew with `language`, unless another instance did it
   * meanwhile: the table is locked for writes and reads until the transaction ends, and rewritten.
   * @param language a name {@link textSearchConfigs} lists
   * @returns whether this call rebuilt it
   */
  rebuildVector(language: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
      if ((await this.vectorLanguage(tx)) === language) return false;
      await tx.query('ALTER TABLE messages DROP COLUMN IF EXISTS search_vector');
      await tx.query(`ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (${vectorExpression(language)}) STORED`);
      await tx.query('CREATE INDEX "IDX_messages_search" ON messages USING gin (search_vector)');
      return true;
    });
  }
}
