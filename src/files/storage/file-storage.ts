import { EntityManager } from 'typeorm';
import { FileEntity, StorageKind } from '../file.entity';

/**
 * Where uploaded files' bytes are kept: PostgreSQL by default, an S3-compatible bucket when `S3_*` is set
 * (README "Files (PDF upload)"). The abstract class is both the interface and the DI token; the module picks the
 * implementation from the configuration.
 */
export abstract class FileStorage {
  /** Recorded on each file row (`files.storage`). */
  abstract readonly kind: StorageKind;

  /**
   * Stores a new file's bytes while its row is being inserted in `tx`: a failure here rolls the row back.
   * @param file the row just inserted (its `id` and `storageName` are set)
   */
  abstract save(tx: EntityManager, file: FileEntity, bytes: Buffer): Promise<void>;

  /** Removes what `save` stored when the transaction then failed to commit (a no-op where it rolled back too). */
  abstract discard(file: FileEntity): Promise<void>;

  /** @returns the bytes of a stored file, or null when they are missing */
  abstract read(file: FileEntity): Promise<Buffer | null>;

  /** Called after files were deleted: removes what the database alone could not (S3 objects). */
  abstract afterDelete(): Promise<void>;
}
