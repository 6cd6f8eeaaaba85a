import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { BudgetLimits } from '../config/file-config';
import { UserEntity } from '../users/user.entity';

/** A user's named client application (`application_id`); it holds API keys. */
@Entity('applications')
export class ApplicationEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Index('IDX_applications_user_id')
  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /**
   * Budget overrides of this application, shared by all its API keys within its user's budget (README "Budgets and
   * quotas"): only the keys set; null: none.
   */
  @Column({ type: 'jsonb', nullable: true })
  limits: BudgetLimits | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
