import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';

/** Where a file's bytes are kept. */
export type StorageKind = 'postgres' | 's3';

/**
 * An uploaded PDF of a chat session (the API guide's upload): its name as the client gave it, size, SHA-256 and the
 * extracted text. The bytes live apart ({@link FileContentEntity}), so listings never load them. Deleting the
 * session (or its user) deletes its files (FK cascade).
 */
@Entity('files')
@Index('UQ_files_session_sha256', ['sessionId', 'sha256'], { unique: true })
export class FileEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'session_id', type: 'integer' })
  sessionId: number;

  @ManyToOne(() => ChatSessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: ChatSessionEntity;

  /** The client's file name, cleaned (no path, no control characters); only ever shown, never used as a path. */
  @Column({ type: 'varchar', length: 255 })
  filename: string;

  @Column({ name: 'mime_type', type: 'varchar', length: 100 })
  mimeType: string;

  /** Bytes. */
  @Column({ name: 'file_size', type: 'integer' })
  fileSize: number;

  /** Lower-case hex SHA-256 of the bytes; one file per content per session. */
  @Column({ type: 'char', length: 64 })
  sha256: string;

  /**
   * Generated name of the stored bytes (a UUID), never derived from the client's file name. The copies of a file in
   * forked sessions share it (and the S3 object).
   */
  @Index('IDX_files_storage_name')
  @Column({ name: 'storage_name', type: 'varchar', length: 64 })
  storageName: string;

  /** Where the bytes are: `postgres` (table `file_contents`) or `s3` (object `storageName` in the bucket). */
  @Column({ type: 'varchar', length: 16, default: 'postgres' })
  storage: StorageKind;

  @Column({ name: 'page_count', type: 'integer' })
  pageCount: number;

  @Column({ name: 'extracted_text', type: 'text' })
  extractedText: string;

  /** True when the text was cut at `files.max_text_chars`. */
  @Column({ name: 'text_truncated', type: 'boolean', default: false })
  textTruncated: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
