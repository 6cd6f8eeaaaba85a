import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { PromptEntity } from './prompt.entity';

/**
 * An earlier title and content of a prompt, kept when an update changed them. Immutable: rows are only
 * inserted, and go with their prompt. One row per (prompt, version), which also guards against two concurrent
 * updates claiming the same number.
 */
@Entity('prompt_versions')
@Unique('UQ_prompt_versions_prompt_version', ['promptId', 'version'])
export class PromptVersionEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'prompt_id', type: 'integer' })
  promptId: number;

  @ManyToOne(() => PromptEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'prompt_id' })
  prompt?: PromptEntity;

  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'text' })
  content: string;

  /** When this version was replaced by the next one. */
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
