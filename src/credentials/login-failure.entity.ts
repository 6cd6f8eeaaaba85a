import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Failed logins of one account (by email, existing or not), for the per-account backoff when Redis is not
 * configured. The email is stored only as its SHA-256, so guesses at unknown emails leave no readable trace.
 */
@Entity('login_failures')
export class LoginFailureEntity {
  /** SHA-256 hex of the normalised email. */
  @PrimaryColumn({ name: 'account_hash', type: 'char', length: 64 })
  accountHash: string;

  @Column({ type: 'integer' })
  failures: number;

  @Column({ name: 'last_failure_at', type: 'timestamptz' })
  lastFailureAt: Date;

  /** Until when the next attempt must wait; null while under `free_failures`. */
  @Column({ name: 'locked_until', type: 'timestamptz', nullable: true })
  lockedUntil: Date | null;
}
