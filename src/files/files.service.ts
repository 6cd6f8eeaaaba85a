import type { EntityManager } from 'typeorm';
import { HttpStatus, Inject, Injectable, StreamableFile } from '@nestjs/common';
import { create as contentDisposition } from 'content-disposition';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { PageQueryDto } from '../common/pagination.dto';
import { notFound, ProblemException } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { isForeignKeyViolation, isUniqueViolation } from '../database/pg-errors';
import { FileDeletedDto, FileDto, FilePageDto, FileSummaryDto, UploadResultDto } from './dto/file.dto';
import { FileEntity } from './file.entity';
import { FilesRepository } from './files.repository';
import { ReceivedFile, receivePdf } from './multipart-upload';
import { ExtractedPdf, PdfExtractionService } from './pdf-extraction.service';
import { FileStorage } from './storage/file-storage';

/** The multipart field the documented upload reads (`curl -F "file=@document.pdf"`). */
const UPLOAD_FIELD = 'file';

/** A session's file as the model's context gets it. */
export interface SessionDocument {
  name: string;
  text: string;
  /** Only the start of the stored text was loaded (more is stored). */
  partial: boolean;
}

/**
 * PDF files of chat sessions (the documented upload): receive under the size limit, check the bytes are a PDF,
 * extract the text in a budgeted child process, store bytes and text together, and hand the text to the
 * model as document context. Another user's session or file is a 404 identical to a missing one.
 */
@Injectable()
export class FilesService {
  constructor(
    private readonly files: FilesRepository,
    private readonly chats: ChatsService,
    private readonly extraction: PdfExtractionService,
    private readonly storage: FileStorage,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * The documented upload. The same bytes uploaded to the same session again return the stored file without
   * extracting anything (`created` false).
   * @param body the request as it streams in: a `multipart/form-data` body with the file in field `file`
   * @throws 404 session missing or not the caller's; 409 session archived; 413 too large; 415 not multipart or
   *         not a PDF; 422 no file, session full, encrypted, corrupt, too many pages, no text, or an extraction
   *         budget passed; 429 too many uploads being processed
   */
  async upload(user: AuthenticatedUser, sessionId: number, body: IncomingMessage): Promise<{ created: boolean; result: UploadResultDto }> {
    const session = await this.chats.findOwned(user.id, sessionId);
    if (session.archivedAt) {
      throw new ProblemException(HttpStatus.CONFLICT, 'This session is archived: restore it before uploading to it.');
    }
    if ((await this.files.countInSession(session.id)) >= this.config.files.max_files_per_session) throw this.sessionFull();
    // The extraction slot is taken before the body is read: a user whose PDF is being processed, or an instance
    // at its cap, is refused at once, and at most that many bodies are buffered at a time.
    const release = this.extraction.reserve(user.id);
    try {
      const received = await receivePdf(body, UPLOAD_FIELD, {
        maxFileBytes: this.config.limits.max_upload_bytes,
        maxParts: this.config.files.max_multipart_parts,
        maxOverheadBytes: this.config.files.max_multipart_overhead_bytes,
        lingerMs: this.config.files.upload_linger_ms,
      });
      const existing = await this.files.findInSessionBySha256(session.id, received.sha256);
      if (existing) return { created: false, result: uploaded(existing) };
      const pdf = await this.extraction.extract(received.bytes);
      return await this.store(session.id, received, pdf);
    } finally {
      release();
    }
  }

  /** Stores an extracted upload; the same bytes stored meanwhile by another upload are returned instead. */
  private async store(
    sessionId: number,
    received: ReceivedFile,
    pdf: ExtractedPdf,
  ): Promise<{ created: boolean; result: UploadResultDto }> {
    try {
      const file = await this.files.createWithContent(
        {
          sessionId,
          filename: received.filename,
          mimeType: 'application/pdf',
          fileSize: received.bytes.length,
          sha256: received.sha256,
          storageName: randomUUID(),
          pageCount: pdf.pageCount,
          extractedText: pdf.text,
          textTruncated: pdf.truncated,
        },
        received.bytes,
        this.storage,
        this.config.files.max_files_per_session,
      );
      // Another upload filled the session while this one was being extracted.
      if (!file) throw this.sessionFull();
      return { created: true, result: uploaded(file) };
    } catch (err) {
      // The same bytes arrived twice at once: the other upload stored them first.
      if (isUniqueViolation(err)) {
        const winner = await this.files.findInSessionBySha256(sessionId, received.sha256);
        if (winner) return { created: false, result: uploaded(winner) };
      }
      // The session was deleted while the text was being extracted.
      if (isForeignKeyViolation(err)) throw notFound('Chat session');
      throw err;
    }
  }

  private sessionFull(): ProblemException {
    const max = this.config.files.max_files_per_session;
    return new ProblemException(
      HttpStatus.UNPROCESSABLE_ENTITY,
      `This session already holds ${max} files, the most it may (files.max_files_per_session): delete one first.`,
    );
  }

  /** A session's files without their text, oldest first. @throws 404 session missing or not the caller's */
  async listForSession(user: AuthenticatedUser, sessionId: number, q: PageQueryDto): Promise<FilePageDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const [rows, total] = await this.files.findPageInSession(session.id, q.page, q.page_size);
    return { total, page: q.page, page_size: q.page_size, items: rows.map(FileSummaryDto.from) };
  }

  /** One file with its text. @throws 404 missing or not the caller's */
  async get(user: AuthenticatedUser, id: number): Promise<FileDto> {
    const file = await this.files.findOwned(user.id, id);
    if (!file) throw notFound('File');
    return FileDto.from(file);
  }

  /**
   * The original bytes as `application/pdf`, to be saved rather than shown (`Content-Disposition: attachment`
   * with an ASCII `filename` and an RFC 5987 `filename*`, RFC 6266).
   * @throws 404 missing or not the caller's
   */
  async content(user: AuthenticatedUser, id: number): Promise<StreamableFile> {
    const file = await this.files.findOwned(user.id, id);
    if (!file) throw notFound('File');
    const data = file.storage === this.storage.kind ? await this.storage.read(file) : null;
    if (!data) {
      // Bytes in a store this instance is not configured for (S3_* changed), or lost from the bucket.
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, "The file's content is not available from this server's storage.");
    }
    return new StreamableFile(data, { type: 'application/pdf', length: data.length, disposition: contentDisposition(file.filename) });
  }

  /** Deletes a file and its bytes. @throws 404 missing or not the caller's */
  async remove(user: AuthenticatedUser, id: number): Promise<FileDeletedDto> {
    if (!(await this.files.deleteOwned(user.id, id))) throw notFound('File');
    await this.storage.afterDelete();
    return { message: 'File deleted successfully' };
  }

  /**
   * In the caller's transaction, gives a forked session copies of its origin's files (see
   * {@link FilesRepository.copySessionFiles}). @returns how many were copied
   */
  copySessionFiles(tx: EntityManager, fromSessionId: number, toSessionId: number): Promise<number> {
    return this.files.copySessionFiles(tx, fromSessionId, toSessionId);
  }

  /**
   * The session's documents for the model's context, oldest first: each file's name and as much of its text as
   * `maxChars` characters in all allow (`partial` when more is stored). The caller has already checked that the
   * session is the user's.
   */
  async documentsForContext(sessionId: number, maxChars: number): Promise<SessionDocument[]> {
    const rows = await this.files.textsOfSession(sessionId, maxChars);
    return rows.map((f) => ({ name: f.filename, text: f.text, partial: f.partial }));
  }
}

function uploaded(file: FileEntity): UploadResultDto {
  return { file: FileDto.from(file), message: 'File uploaded successfully' };
}
