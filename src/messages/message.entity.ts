import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { numericTransformer } from '../common/numeric.transformer';
import type { ContentPart } from '../providers/content-parts';
import type { ModelAttempt } from '../providers/model-attempt';

/** `tool`: a tool's result, answering the call `tool_call_id` of an assistant message before it. */
export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/**
 * `in_progress`: an answer being generated; `complete`: a whole answer; `incomplete`: the client left mid-stream,
 * or the process generating it stopped (the text checkpointed so far is kept); `failed`: the provider failed;
 * `cancelled`: stopped by `POST /v1/chat/messages/{id}/cancel`.
 */
export const MESSAGE_STATUSES = ['in_progress', 'complete', 'incomplete', 'failed', 'cancelled'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * One turn of a session. A session's messages form a tree: each message follows its `parent_id` (null for the
 * first message), and siblings are alternative versions (an edited question, a regenerated answer). A child always
 * has a larger id than its parent, so a branch read from its leaf upwards comes out newest first.
 */
@Entity('messages')
@Index('IDX_messages_session_id_id', ['sessionId', 'id'])
@Index('IDX_messages_parent_id', ['parentId'])
// The first messages of a session (siblings of the root), found without walking the session's other rows.
@Index('IDX_messages_session_roots', ['sessionId'], { where: '"parent_id" IS NULL' })
// The sweep of abandoned answers: `status = 'in_progress' AND heartbeat_at < …`.
@Index('IDX_messages_status_heartbeat', ['status', 'heartbeatAt'])
export class MessageEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'session_id', type: 'integer' })
  sessionId: number;

  @ManyToOne(() => ChatSessionEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'session_id' })
  session?: ChatSessionEntity;

  /** The message this one follows in its branch (same session); null for a first message. */
  @Column({ name: 'parent_id', type: 'integer', nullable: true })
  parentId: number | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'parent_id' })
  parent?: MessageEntity;

  @Column({ type: 'varchar', length: 16 })
  role: MessageRole;

  /** The text of `parts` (their text parts joined): what plain-string shapes, search and token counts read. */
  @Column({ type: 'text' })
  content: string;

  /**
   * The whole message: text, image (user messages) and tool-call (assistant messages) parts, in order, in the API's
   * shape (`ContentPart`). An answer in progress holds its text so far.
   */
  @Column({ type: 'jsonb' })
  parts: ContentPart[];

  /** `tool` messages: the id of the tool call (in an earlier assistant message) this is the result of. */
  @Column({ name: 'tool_call_id', type: 'varchar', length: 128, nullable: true })
  toolCallId: string | null;

  /** For assistant messages: the registry id of the model that answered. */
  @Column({ type: 'varchar', length: 200, nullable: true })
  model: string | null;

  @Column({ type: 'varchar', length: 16, default: 'complete' })
  status: MessageStatus;

  @Column({ name: 'finish_reason', type: 'varchar', length: 32, nullable: true })
  finishReason: string | null;

  @Column({ name: 'tokens_input', type: 'integer', default: 0 })
  tokensInput: number;

  @Column({ name: 'tokens_output', type: 'integer', default: 0 })
  tokensOutput: number;

  /** Of `tokens_input`, those the provider served from its prompt cache. */
  @Column({ name: 'tokens_cached', type: 'integer', default: 0 })
  tokensCached: number;

  /** Of `tokens_output`, those the model spent on hidden reasoning. */
  @Column({ name: 'tokens_reasoning', type: 'integer', default: 0 })
  tokensReasoning: number;

  /** True when the provider reported no usage and the counts come from a tokenizer. */
  @Column({ name: 'usage_estimated', type: 'boolean', default: false })
  usageEstimated: boolean;

  @Column({ type: 'numeric', precision: 18, scale: 8, default: 0, transformer: numericTransformer })
  cost: number;

  /**
   * For answers: the answering model's unit prices `cost` was computed with (USD per 1M tokens), as the registry
   * had them then; null on rows stored before prices were kept. A later price change leaves them (and `cost`) be.
   */
  @Column({ name: 'price_input_per_1m', type: 'numeric', precision: 18, scale: 8, nullable: true, transformer: numericTransformer })
  priceInputPer1m: number | null;

  /** USD per 1M input tokens served from the provider's prompt cache, when the answer was priced. */
  @Column({ name: 'price_cached_input_per_1m', type: 'numeric', precision: 18, scale: 8, nullable: true, transformer: numericTransformer })
  priceCachedInputPer1m: number | null;

  /** USD per 1M output tokens, when the answer was priced. */
  @Column({ name: 'price_output_per_1m', type: 'numeric', precision: 18, scale: 8, nullable: true, transformer: numericTransformer })
  priceOutputPer1m: number | null;

  /** The day the registry's price was read from the provider's price list (`pricing.priced_at`); null: not given. */
  @Column({ name: 'priced_at', type: 'date', nullable: true })
  pricedAt: string | null;

  /** Why a `failed` message failed (a problem detail sentence); never a provider secret. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** For assistant messages: every model tried for this answer, in order (retries and fallbacks). */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  attempts: ModelAttempt[];

  /**
   * The instance generating the answer, until it stores the outcome (a sweep that marks the answer `incomplete`
   * leaves it: that instance may only have lost its database connection, and still stores the answer once).
   */
  @Column({ name: 'owner_instance', type: 'varchar', length: 64, nullable: true })
  ownerInstance: string | null;

  /** While `in_progress`: when its instance last showed it is alive; a stale one is swept to `incomplete`. */
  @Column({ name: 'heartbeat_at', type: 'timestamptz', nullable: true })
  heartbeatAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
