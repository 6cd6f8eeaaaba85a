import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { numericTransformer } from '../common/numeric.transformer';
import { UserEntity } from '../users/user.entity';

/** Why a model was called: a chat answer, a session title, a rolling summary, a prompt preview. */
export const USAGE_PURPOSES = ['answer', 'title', 'summary', 'preview'] as const;
export type UsagePurpose = (typeof USAGE_PURPOSES)[number];

/**
 * The usage ledger: one row per user, UTC day, answering model, purpose and application, added to (never rewritten) in the
 * same transaction that records each model call (`UsageRepository.record`). It keeps the cost at the price in
 * force when the call was recorded, and outlives deleted sessions; it goes with its user.
 */
@Entity('usage_daily')
@Check('CHK_usage_daily_purpose', `purpose IN (${USAGE_PURPOSES.map((p) => `'${p}'`).join(', ')})`)
export class UsageDailyEntity {
  @PrimaryColumn({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** UTC date, `YYYY-MM-DD`. */
  @PrimaryColumn({ type: 'date' })
  day: string;

  /** Registry id of the model that answered (or, for a failed answer, the last one tried). */
  @PrimaryColumn({ type: 'varchar', length: 200 })
  model: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  purpose: UsagePurpose;

  /**
   * The application whose API key made the calls; 0 for calls made with a user access token. Not a foreign key: the
   * ledger keeps the spend of a deleted application under its old id.
   */
  @PrimaryColumn({ name: 'application_id', type: 'integer', default: 0 })
  applicationId: number;

  /** Model calls recorded: answers stored (complete, incomplete and failed alike), titles, summaries, previews. */
  @Column({ type: 'integer', default: 0 })
  requests: number;

  @Column({ name: 'tokens_input', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensInput: number;

  @Column({ name: 'tokens_output', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensOutput: number;

  @Column({ name: 'tokens_cached', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensCached: number;

  @Column({ name: 'tokens_reasoning', type: 'bigint', default: 0, transformer: numericTransformer })
  tokensReasoning: number;

  /** USD. */
  @Column({ type: 'numeric', precision: 18, scale: 8, default: 0, transformer: numericTransformer })
  cost: number;
}
