import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The outbox of objects to remove from the S3 bucket. A database trigger adds a row for every deleted `files` row
 * whose bytes are in S3, whatever deleted it (the file route, a session or user deletion cascading), so an object
 * cannot be forgotten; the storage's cleanup removes the object, then the row.
 */
@Entity('file_object_deletions')
export class FileObjectDeletionEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'storage_name', type: 'varchar', length: 64 })
  storageName: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
