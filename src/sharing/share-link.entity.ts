import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { UserEntity } from '../users/user.entity';
import type { ConversationSnapshot } from './conversation-snapshot';

/**
 * A read-only link to a snapshot of a session's active branch. Only the SHA-256 of its token is kept (the token is
 * shown once, when the link is made), so a copy of the table opens no conversation. Removed with its session or
 * its user (FK cascade).
 */
@Entity('share_links')
@Index('IDX_share_links_user_id', ['userId', 'id'])
export class ShareLinkEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Index('IDX_share_links_session_id')
  @Column({ name: 'session_id', type: 'integer' })
  sessionId: number;

  @ManyToOne(() => ChatSessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: ChatSessionEntity;

  /** Lower-case hex SHA-256 of the token. */
  @Index('UQ_share_links_token_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  @Column({ type: 'jsonb' })
  snapshot: ConversationSnapshot;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** After this the link answers 404; null: it does not expire. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  /** Set when the owner revoked the link (it answers 404 from then on). */
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
