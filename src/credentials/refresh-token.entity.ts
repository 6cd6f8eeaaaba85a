import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity } from '../users/user.entity';

/**
 * One opaque refresh token, stored as its SHA-256 hash. Tokens minted from one login form a family, which is the
 * login session the user sees (`GET /v1/auth/sessions`; its id is the `sid` claim of the family's access tokens).
 * Rotation spends a token (`usedAt`), and presenting a spent token again, after the overlap, revokes the family
 * (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 */
@Entity('refresh_tokens')
export class RefreshTokenEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Index('IDX_refresh_tokens_user_id')
  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Index('IDX_refresh_tokens_family_id')
  @Column({ name: 'family_id', type: 'uuid' })
  familyId: string;

  @Index('UQ_refresh_tokens_token_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  /** Indexed (where set) so an instance can load the families revoked in the last access-token lifetime. */
  @Index('IDX_refresh_tokens_revoked_at', { where: 'revoked_at IS NOT NULL' })
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  /** When this token was minted: the family's last login or refresh. */
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** When the family's login happened (copied onto every token of the family). */
  @Column({ name: 'family_created_at', type: 'timestamptz', default: () => 'now()' })
  familyCreatedAt: Date;

  /** `User-Agent` of the request that minted this token, cut to 512 characters. */
  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  /** Client address of that request, as the server saw it (after `TRUST_PROXY`). */
  @Column({ name: 'ip', type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
