import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { FileEntity } from './file.entity';

/**
 * The original bytes of an uploaded file, in a table of their own so that file listings and context building
 * never read them. Written in the same transaction as the file row and removed with it (FK cascade): there is
 * never a row without bytes or bytes without a row.
 */
@Entity('file_contents')
export class FileContentEntity {
  @PrimaryColumn({ name: 'file_id', type: 'integer' })
  fileId: number;

  @OneToOne(() => FileEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'file_id' })
  file?: FileEntity;

  @Column({ type: 'bytea' })
  data: Buffer;
}
