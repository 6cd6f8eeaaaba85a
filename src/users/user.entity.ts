import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { numericTransformer } from '../common/numeric.transformer';
import type { UserRole } from '../common/user-role';
import type { BudgetLimits } from '../config/file-config';

/** A person or an anonymous visitor (as documented). Email is stored lower-cased; anonymous users have none. */
@Entity('users')
export class UserEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Index('UQ_users_email', { unique: true, where: 'email IS NOT NULL' })
  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ name: 'password_hash', type: 'varchar', length: 255, nullable: true })
  passwordHash: string | null;

  @Column({ name: 'display_name', type: 'varchar', length: 100, nullable: true })
  displayName: string | null;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: UserRole;

  @Column({ type: 'varchar', length: 32, default: 'free' })
  tier: string;

  @Column({ name: 'is_anonymous', type: 'boolean', default: false })
  isAnonymous: boolean;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  /**
   * Budget overrides an admin set on this user (README "Budgets and quotas"): only the keys set, each tightening
   * the tier's; null: none.
   */
  @Column({ type: 'jsonb', nullable: true })
  limits: BudgetLimits | null;

  /** Running totals, kept even when sessions are deleted (usage is a ledger, not a view). */
  @Column({ name: 'tokens_input', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensInput: number;

  @Column({ name: 'tokens_output', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensOutput: number;

  @Column({ type: 'numeric', precision: 18, scale: 8, default: 0, transformer: numericTransformer })
  cost: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
