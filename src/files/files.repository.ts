import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { FileContentEntity } from './file-content.entity';
import { FileObjectDeletionEntity } from './file-object-deletion.entity';
import { FileEntity } from './file.entity';
import { FileStorage } from './storage/file-storage';

/** The columns of a listing: everything but the text (and never the bytes, which live in another table). */
const SUMMARY_COLUMNS = {
  id: true,
  sessionId: true,
  filename: true,
  mimeType: true,
  fileSize: true,
  sha256: true,
  storageName: true,
  storage: true,
  pageCount: true,
  textTruncated: true,
  createdAt: true,
} as const;

/**
 * Uploaded files, their bytes in PostgreSQL and the outbox of S3 objects to remove. Reads by file id take the
 * owner's user id and join the session, so another user's file is simply not found.
 */
@Injectable()
export class FilesRepository {
  constructor(
    @InjectRepository(FileEntity) private readonly files: Repository<FileEntity>,
    @InjectRepository(FileContentEntity) private readonly contents: Repository<FileContentEntity>,
    @InjectRepository(FileObjectDeletionEntity) private readonly objectDeletions: Repository<FileObjectDeletionEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Inserts the file row and has `storage` store its bytes within the same transaction: both or neither (bytes
   * stored outside the database are discarded again when the transaction fails).
   * @param maxInSession files the session may hold; counted under a per-session lock, so uploads finishing at
   *        once (in any instance) cannot pass it together
   * @returns the stored file, or null when the session already holds `maxInSession` files (nothing stored)
   */
  async createWithContent(
    file: Omit<FileEntity, 'id' | 'createdAt' | 'session' | 'storage'>,
    bytes: Buffer,
    storage: FileStorage,
    maxInSession: number,
  ): Promise<FileEntity | null> {
    let saved: FileEntity | undefined;
    try {
      return await this.dataSource.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`session-files:${file.sessionId}`]);
        if ((await tx.countBy(FileEntity, { sessionId: file.sessionId })) >= maxInSession) return null;
        saved = await tx.save(tx.create(FileEntity, { ...file, storage: storage.kind }));
        await storage.save(tx, saved, bytes);
        return saved;
      });
    } catch (err) {
      if (saved) await storage.discard(saved).catch(() => undefined);
      throw err;
    }
  }

  /** The session's file with these bytes, if any (the session is already known to be the caller's). */
  findInSessionBySha256(sessionId: number, sha256: string): Promise<FileEntity | null> {
    return this.files.findOneBy({ sessionId, sha256 });
  }

  /** @returns the file (with its text) if its session belongs to `userId`, else null. */
  findOwned(userId: number, id: number): Promise<FileEntity | null> {
    return this.owned(userId).andWhere('f.id = :id', { id }).getOne();
  }

  /** A page of a session's files without their text, oldest first. */
  findPageInSession(sessionId: number, page: number, pageSize: number): Promise<[FileEntity[], number]> {
    return this.files.findAndCount({
      select: SUMMARY_COLUMNS,
      where: { sessionId },
      order: { id: 'ASC' },
      skip: (page - 1) * pageSize,
      take: pageSize,
    });
  }

  /** How many files the session holds. */
  countInSession(sessionId: number): Promise<number> {
    return this.files.countBy({ sessionId });
  }

  /**
   * Names and the start of the texts of a session's files, oldest first, for the model's context: `maxChars`
   * characters in all, so each file gets what the ones before it left (those after the budget get none).
   * `substr` reads only the start of a long (TOASTed) text.
   * @returns per file its name, its loaded text and whether its stored text goes on beyond it
   */
  textsOfSession(sessionId: number, maxChars: number): Promise<{ filename: string; text: string; partial: boolean }[]> {
    return this.dataSource.query(
      `SELECT filename, substr(extracted_text, 1, room) AS text, substr(extracted_text, room + 1, 1) <> '' AS partial
         FROM (SELECT id, filename, extracted_text,
                      greatest($2::int - coalesce(sum(length(substr(extracted_text, 1, $2::int))) OVER (
                        ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)::int AS room
                 FROM files WHERE session_id = $1) f
        ORDER BY id`,
      [sessionId, maxChars],
    );
  }

  /** Deletes an owned file with its bytes (FK cascade). @returns whether it existed. */
  async deleteOwned(userId: number, id: number): Promise<boolean> {
    // pg answers a DELETE with [rows, affected count].
    const result: [unknown[], number] = await this.dataSource.query(
      'DELETE FROM files f USING chat_sessions s WHERE f.id = $1 AND s.id = f.session_id AND s.user_id = $2',
      [id, userId],
    );
    return result[1] > 0;
  }

  /**
   * In the caller's transaction, gives session `toSessionId` a copy of every file of `fromSessionId` (a forked
   * session keeps its documents): the rows, and the bytes kept in PostgreSQL. Bytes in S3 are shared by the copies;
   * the object is queued for removal only once no file row names it any more.
   * @returns how many files were copied
   */
  async copySessionFiles(tx: EntityManager, fromSessionId: number, toSessionId: number): Promise<number> {
    const rows: { id: number }[] = await tx.query(
      `WITH copied AS (
         INSERT INTO files (session_id, filename, mime_type, file_size, sha256, storage_name, storage, page_count,
                            extracted_text, text_truncated, created_at)
         SELECT $2, filename, mime_type, file_size, sha256, storage_name, storage, page_count, extracted_text, text_truncated, created_at
           FROM files WHERE session_id = $1 ORDER BY id
         RETURNING id, sha256
       ), bytes AS (
         INSERT INTO file_contents (file_id, data)
         SELECT c.id, fc.data FROM copied c
           JOIN files f ON f.session_id = $1 AND f.sha256 = c.sha256
           JOIN file_contents fc ON fc.file_id = f.id
       )
       SELECT id FROM copied`,
      [fromSessionId, toSessionId],
    );
    return rows.length;
  }

  /** Inserts a file's bytes within `tx`, the transaction inserting its row (see {@link createWithContent}). */
  async insertContent(tx: EntityManager, fileId: number, bytes: Buffer): Promise<void> {
    await tx.insert(FileContentEntity, { fileId, data: bytes });
  }

  /** @returns the bytes of a file kept in PostgreSQL, or null when there are none */
  async contentOf(fileId: number): Promise<Buffer | null> {
    const content = await this.contents.findOneBy({ fileId });
    return content?.data ?? null;
  }

  /** The oldest `limit` queued removals of S3 objects of deleted files (see {@link FileObjectDeletionEntity}). */
  pendingObjectDeletions(limit: number): Promise<FileObjectDeletionEntity[]> {
    return this.objectDeletions.find({ order: { id: 'ASC' }, take: limit });
  }

  /** Drops a queued removal once its object is gone. */
  async forgetObjectDeletion(id: number): Promise<void> {
    await this.objectDeletions.delete({ id });
  }

  private owned(userId: number) {
    return this.files
      .createQueryBuilder('f')
      .innerJoin('f.session', 's')
      .where('s.user_id = :userId', { userId });
  }
}
