import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { FileEntity } from '../file.entity';
import { FilesRepository } from '../files.repository';
import { FileStorage } from './file-storage';

/**
 * Bytes in PostgreSQL (`file_contents`, bytea), written in the same transaction as the file row and removed with
 * it by the foreign key's cascade: never a row without bytes, never bytes without a row.
 */
@Injectable()
export class PostgresFileStorage extends FileStorage {
  readonly kind = 'postgres' as const;

  constructor(private readonly files: FilesRepository) {
    super();
  }

  save(tx: EntityManager, file: FileEntity, bytes: Buffer): Promise<void> {
    return this.files.insertContent(tx, file.id, bytes);
  }

  async discard(): Promise<void> {
    // The transaction's rollback removed the bytes with the row.
  }

  read(file: FileEntity): Promise<Buffer | null> {
    return this.files.contentOf(file.id);
  }

  async afterDelete(): Promise<void> {
    // The foreign key's ON DELETE CASCADE removed the bytes.
  }
}
