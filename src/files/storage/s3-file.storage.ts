import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpStatus, Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { AppConfig, appConfig } from '../../config/app-config';
import { FileEntity } from '../file.entity';
import { FilesRepository } from '../files.repository';
import { FileStorage } from './file-storage';

/** Outbox rows handled per cleanup round. */
const CLEANUP_BATCH = 100;

/**
 * Bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…; path-style URLs), one object per file named by the
 * file's generated `storage_name`.
 *
 * Deletion can't be forgotten: a trigger on `files` queues the storage name of every deleted S3-backed row in
 * `file_object_deletions` — whether the file route, a session deletion or a user deletion (cascades) removed it —
 * in the same transaction as the deletion. This class removes the queued objects right after a file deletion and
 * every `files.storage_cleanup_interval_ms`, then forgets the queue entries. Deleting an object twice is harmless,
 * so two instances cleaning at once need no lock.
 */
@Injectable()
export class S3FileStorage extends FileStorage implements OnModuleInit, OnModuleDestroy {
  readonly kind = 's3' as const;
  private readonly logger = new Logger(S3FileStorage.name);
  private readonly client: S3Client;
  private readonly bucket: string;
  private timer?: NodeJS.Timeout;
  private cleaning?: Promise<void>;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly files: FilesRepository,
  ) {
    super();
    const s3 = config.s3!;
    this.bucket = s3.bucket;
    this.client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      // Checksums only where the protocol demands them: not every S3-compatible store knows the newer headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.afterDelete(), this.config.files.storage_cleanup_interval_ms);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.client.destroy();
  }

  /** @throws 503 when the store refuses or does not answer (the file row is then rolled back) */
  async save(_tx: unknown, file: FileEntity, bytes: Buffer): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: file.storageName, Body: bytes, ContentType: 'application/pdf' }),
      );
    } catch (err) {
      this.logger.error(`Storing ${file.storageName} in bucket ${this.bucket} failed: ${(err as Error).message}`);
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'The file store is not answering; try again shortly.');
    }
  }

  async discard(file: FileEntity): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: file.storageName }));
  }

  async read(file: FileEntity): Promise<Buffer | null> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: file.storageName }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (err) {
      if (err instanceof NoSuchKey) return null;
      throw err;
    }
  }

  /** Removes the objects of deleted files (one round at a time; a call during a round waits for it). */
  afterDelete(): Promise<void> {
    this.cleaning ??= this.cleanUp()
      .catch((err: Error) => this.logger.warn(`Removing objects of deleted files failed; will retry: ${err.message}`))
      .finally(() => (this.cleaning = undefined));
    return this.cleaning;
  }

  private async cleanUp(): Promise<void> {
    for (;;) {
      const rows = await this.files.pendingObjectDeletions(CLEANUP_BATCH);
      for (const row of rows) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: row.storageName }));
        await this.files.forgetObjectDeletion(row.id);
      }
      if (rows.length < CLEANUP_BATCH) return;
    }
  }
}
