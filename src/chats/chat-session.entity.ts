import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { ApplicationEntity } from '../applications/application.entity';
import { numericTransformer } from '../common/numeric.transformer';
import { PromptEntity } from '../prompts/prompt.entity';
import { UserEntity } from '../users/user.entity';

/** A chat session (the API guide's "chat session"): its model, title, system prompt and running usage totals. */
@Entity('chat_sessions')
@Index('IDX_chat_sessions_user_updated', ['userId', 'updatedAt'])
export class ChatSessionEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Index('IDX_chat_sessions_application_id')
  @Column({ name: 'application_id', type: 'integer', nullable: true })
  applicationId: number | null;

  @ManyToOne(() => ApplicationEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'application_id' })
  application?: ApplicationEntity;

  /** Registry id (`provider/model`) the next answer uses. */
  @Column({ type: 'varchar', length: 200 })
  model: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  title: string | null;

  @Column({ name: 'system_prompt', type: 'text', nullable: true })
  systemPrompt: string | null;

  /** Rolling summary of the messages up to `summaryMessageId` (summary_window mode). */
  @Column({ type: 'text', nullable: true })
  summary: string | null;

  /** Id of the last message the summary covers; later messages are sent verbatim. */
  @Column({ name: 'summary_message_id', type: 'integer', nullable: true })
  summaryMessageId: number | null;

  @Column({ name: 'summary_updated_at', type: 'timestamptz', nullable: true })
  summaryUpdatedAt: Date | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  @Column({ name: 'message_count', type: 'integer', default: 0 })
  messageCount: number;

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

  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true })
  archivedAt: Date | null;

  /** The prompt whose rendering became the system prompt; null once that prompt is deleted. */
  @Index('IDX_chat_sessions_prompt_id')
  @Column({ name: 'prompt_id', type: 'integer', nullable: true })
  promptId: number | null;

  @ManyToOne(() => PromptEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'prompt_id' })
  prompt?: PromptEntity;

  /** The prompt's version at the time, kept even when the prompt is deleted. */
  @Column({ name: 'prompt_version', type: 'integer', nullable: true })
  promptVersion: number | null;

  /**
   * The newest message of the branch shown and sent to the model (null: no message yet). Sends append under it.
   * No foreign key: its messages go only with the session, and a send updates it without a constraint check.
   */
  @Column({ name: 'active_leaf_id', type: 'integer', nullable: true })
  activeLeafId: number | null;

  /** The session this one was forked from; null when not a fork, or once the origin is deleted. */
  @Column({ name: 'forked_from_session_id', type: 'integer', nullable: true })
  forkedFromSessionId: number | null;

  @ManyToOne(() => ChatSessionEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'forked_from_session_id' })
  forkedFrom?: ChatSessionEntity;

  /** The origin's message the fork ends with (its copy is this session's first active leaf). */
  @Column({ name: 'forked_from_message_id', type: 'integer', nullable: true })
  forkedFromMessageId: number | null;
}
