import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FileContentEntity } from '../file-content.entity';
import { FileEntity } from '../file.entity';
import { FileStorage } from './file-storage';

/**
 * Bytes in PostgreSQL (`file_contents`, bytea), written in the same transaction as the file row and removed with
 * it by the foreign key's cascade: never a row without bytes, never bytes without a row.
 */
@Injectable()
export class PostgresFileStorage extends FileStorage {
  readonly kind = 'postgres' as const;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async save(tx: EntityManager, file: FileEntity, bytes: Buffer): Promise<void> {
    await tx.insert(FileContentEntity, { fileId: file.id, data: bytes });
  }

  async discard(): Promise<void> {
    // The transaction's rollback removed the bytes with the row.
  }

  async read(file: FileEntity): Promise<Buffer | null> {
    const content = await this.dataSource.getRepository(FileContentEntity).findOneBy({ fileId: file.id });
    return content?.data ?? null;
  }

  async afterDelete(): Promise<void> {
    // The foreign key's ON DELETE CASCADE removed the bytes.
  }
}
