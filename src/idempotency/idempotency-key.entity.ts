import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { UserEntity } from '../users/user.entity';
import type { StoredResponse } from './stored-response';

/**
 * `pending`: a request with this key is doing its work and has stored nothing yet; `stored`: its outcome is
 * recorded (the answer it started, or the JSON response it gave).
 */
export const IDEMPOTENCY_KEY_STATES = ['pending', 'stored'] as const;
export type IdempotencyKeyState = (typeof IDEMPOTENCY_KEY_STATES)[number];

/**
 * One `Idempotency-Key` of one user (IETF draft-ietf-httpapi-idempotency-key-header): the fingerprint of the
 * first request sent with it and that request's outcome, kept until `expires_at`. The primary key (user, key)
 * makes concurrent repeats race at the database: one insert wins.
 */
@Entity('idempotency_keys')
export class IdempotencyKeyEntity {
  @PrimaryColumn({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** The key as the client sent it (without the quotes of a structured-field string). */
  @PrimaryColumn({ type: 'varchar', length: 1000 })
  key: string;

  /** SHA-256 hex of the request's method, path and canonical JSON body. */
  @Column({ type: 'char', length: 64 })
  fingerprint: string;

  @Column({ type: 'varchar', length: 16 })
  state: IdempotencyKeyState;

  /** For a send: the answer it started (replayed from its event log or its row). */
  @Column({ name: 'message_id', type: 'integer', nullable: true })
  messageId: number | null;

  /** For a send: the session it answered in. */
  @Column({ name: 'session_id', type: 'integer', nullable: true })
  sessionId: number | null;

  /** A JSON response returned as it is to repeats. */
  @Column({ type: 'jsonb', nullable: true })
  response: StoredResponse | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** After this the key is forgotten (swept, or dropped when read). */
  @Index('IDX_idempotency_keys_expires_at')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
