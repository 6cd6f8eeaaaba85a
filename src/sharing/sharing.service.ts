import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatSessionsRepository } from '../chats/chat-sessions.repository';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { invalidField, notFound } from '../common/problem';
import { AppConfig, appConfig } from '../config/app-config';
import { MessageRole } from '../messages/message.entity';
import { ImportedMessage, MessagesRepository } from '../messages/messages.repository';
import { ContentPart, IMAGE_MEDIA_TYPES, textOf } from '../providers/content-parts';
import { ModelRegistry } from '../providers/model-registry';
import { ExportedMessageDto, SessionExportDto } from './dto/session-export.dto';
import { CreatedShareLinkDto, SharedConversationDto, ShareLinkDto, ShareLinkPageDto, ShareLinksQueryDto } from './dto/share-link.dto';
import { exportJson, exportMarkdown, snapshotOf } from './session-export';
import { ShareLinksRepository } from './share-links.repository';

/** Bytes of a share link's token: 256 bits (well above the 128 bits OWASP asks of session identifiers). */
const TOKEN_BYTES = 32;
/** A token as links carry it: base64url of {@link TOKEN_BYTES} bytes. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Which parts each role may hold (as a send accepts them): images only from the user, tool calls from the model. */
const PARTS_BY_ROLE: Record<MessageRole, readonly string[]> = {
  system: ['text'],
  user: ['text', 'image'],
  assistant: ['text', 'tool_call'],
  tool: ['text'],
};

/**
 * A file name for a download: the session's title reduced to letters and digits of any script, spaces as `-`, or
 * `session-<id>`. A name beyond ASCII goes out as RFC 6266's `filename*` (UTF-8) with an ASCII `filename` fallback.
 */
function fileNameOf(session: ChatSessionEntity, extension: string): string {
  const letters = (session.title ?? '')
    .normalize('NFC')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .trim()
    .replace(/\s+/g, '-');
  // By code points: cutting between the halves of a surrogate pair would leave a name that can't be encoded.
  const base = Array.from(letters).slice(0, 60).join('');
  return `${base || `session-${session.id}`}.${extension}`;
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

/** A download: its media type, file name and body. */
export interface SessionDownload {
  contentType: string;
  fileName: string;
  body: string;
}

/**
 * Getting conversations out and back in: exports (the whole tree as JSON, the active branch as Markdown), imports
 * of an export into a new session, and read-only share links showing a snapshot of the active branch to anyone
 * with the link. Limits: `sharing.*` in the configuration.
 */
@Injectable()
export class SharingService {
  constructor(
    private readonly chats: ChatsService,
    private readonly sessions: ChatSessionsRepository,
    private readonly messages: MessagesRepository,
    private readonly links: ShareLinksRepository,
    private readonly registry: ModelRegistry,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /**
   * An owned session as a download: `json` the whole tree in the export format, `markdown` the active branch.
   * @throws 404 not the caller's session; 422 more messages than `sharing.max_messages`
   */
  async export(user: AuthenticatedUser, sessionId: number, format: 'json' | 'markdown'): Promise<SessionDownload> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const max = this.config.sharing.max_messages;
    if (format === 'markdown') {
      const branch = this.withinLimit(await this.messages.activeBranch(session.id, max + 1), 'the active branch');
      return { contentType: 'text/markdown; charset=utf-8', fileName: fileNameOf(session, 'md'), body: exportMarkdown(session, branch) };
    }
    const tree = this.withinLimit(await this.messages.wholeTree(session.id, max + 1), 'the session');
    return { contentType: 'application/json; charset=utf-8', fileName: fileNameOf(session, 'json'), body: JSON.stringify(exportJson(session, tree), null, 2) };
  }

  /**
   * A new session of the caller's holding an exported tree (new ids, the same links and active leaf), its system
   * prompt, title and metadata. Its usage totals start at zero: nothing was spent on this server. One transaction:
   * a refused import leaves nothing behind.
   * @returns the new session
   * @throws 422 naming the field: a broken tree (a parent that is not an earlier message, a repeated id, an active
   *         leaf that is not a message), parts a role can't hold, more messages than `sharing.max_messages`
   */
  async import(user: AuthenticatedUser, data: SessionExportDto): Promise<ChatSessionEntity> {
    const rows = this.importedMessages(data.messages);
    const leafId = data.session.active_leaf_id ?? data.messages[data.messages.length - 1]?.id ?? null;
    const leafIndex = leafId === null ? null : data.messages.findIndex((m) => m.id === leafId);
    if (leafIndex === -1) throw invalidField('session.active_leaf_id', 'must be the id of one of the messages');
    const model = this.modelOf(data.session.model);
    return this.db.transaction(async (tx) => {
      const session = await this.sessions.insert(
        {
          userId: user.id,
          applicationId: user.applicationId ?? null,
          model,
          title: data.session.title ?? null,
          systemPrompt: data.session.system_prompt ?? null,
          metadata: data.session.metadata ?? {},
        },
        tx,
      );
      const ids = await this.messages.importTree(tx, session.id, rows);
      if (leafIndex !== null) await this.sessions.recordCopiedMessages(tx, session.id, ids.length, ids[leafIndex]);
      return Object.assign(session, { messageCount: ids.length, activeLeafId: leafIndex === null ? null : ids[leafIndex] });
    });
  }

  /**
   * A read-only link to a snapshot of an owned session's active branch as it is now.
   * @param expiresAt ISO 8601, in the future (and within `sharing.max_link_days` when set)
   * @returns the link with its token, shown this once
   * @throws 404 not the caller's session; 422 a bad expiry, or a branch longer than `sharing.max_messages`
   */
  async share(user: AuthenticatedUser, sessionId: number, expiresAt?: string): Promise<CreatedShareLinkDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const expiry = this.expiryOf(expiresAt);
    const max = this.config.sharing.max_messages;
    const branch = this.withinLimit(await this.messages.activeBranch(session.id, max + 1), 'the active branch');
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const link = await this.links.insert({ userId: user.id, sessionId: session.id, tokenHash: sha256(token), snapshot: snapshotOf(session, branch), expiresAt: expiry });
    return { ...ShareLinkDto.from(link), token, url: `/v1/shared/${token}` };
  }

  /** A page of my share links not revoked, newest first (optionally of one session); never their tokens. */
  async list(user: AuthenticatedUser, query: ShareLinksQueryDto): Promise<ShareLinkPageDto> {
    const { page, page_size } = query;
    const [rows, total] = await this.links.findPageOwned(user.id, query.session_id, (page - 1) * page_size, page_size);
    const now = new Date();
    return { total, page, page_size, items: rows.map((l) => ShareLinkDto.from(l, now)) };
  }

  /** Revokes one of my links: it answers 404 from now on. @throws 404 not mine, or already revoked */
  async revoke(user: AuthenticatedUser, id: number): Promise<void> {
    if (!(await this.links.revokeOwned(user.id, id))) throw notFound('Share link');
  }

  /**
   * What a share link shows, to anyone with its token.
   * @throws 404 the same for a token that is malformed, unknown, revoked or expired
   */
  async shared(token: string): Promise<SharedConversationDto> {
    const link = TOKEN_FORMAT.test(token) ? await this.links.findLive(sha256(token)) : null;
    if (!link) throw notFound('Shared conversation');
    return {
      title: link.snapshot.title,
      shared_at: link.createdAt.toISOString(),
      expires_at: link.expiresAt?.toISOString() ?? null,
      messages: link.snapshot.messages,
    };
  }

  private withinLimit<T>(items: T[], what: string): T[] {
    const max = this.config.sharing.max_messages;
    if (items.length > max) throw invalidField('session', `${what} holds more than ${max} messages (sharing.max_messages)`);
    return items;
  }

  private expiryOf(expiresAt: string | undefined): Date | null {
    const days = this.config.sharing.max_link_days;
    const latest = days > 0 ? new Date(Date.now() + days * 86_400_000) : null;
    if (expiresAt === undefined) return latest;
    const expiry = new Date(expiresAt);
    if (!(expiry.getTime() > Date.now())) throw invalidField('expires_at', 'must be in the future');
    if (latest && expiry > latest) throw invalidField('expires_at', `must be within ${days} days (sharing.max_link_days)`);
    return expiry;
  }

  /** The session's model as this server knows it, or its default model. */
  private modelOf(name: string): string {
    try {
      return this.registry.resolve(name).id;
    } catch {
      return this.registry.defaultModel().id;
    }
  }

  /**
   * Checks an exported tree and turns it into rows: ids unique, each parent an earlier message, parts of the kinds
   * the role may hold and well formed, `content` the text of the parts.
   * @throws 422 naming the field
   */
  private importedMessages(messages: ExportedMessageDto[]): ImportedMessage[] {
    const max = this.config.sharing.max_messages;
    if (messages.length > max) throw invalidField('messages', `must hold at most ${max} messages (sharing.max_messages)`);
    const indexOf = new Map<number, number>();
    return messages.map((m, i) => {
      if (indexOf.has(m.id)) throw invalidField(`messages.${i}.id`, `repeats the id of messages.${indexOf.get(m.id)}`);
      const parentIndex = m.parent_id === null || m.parent_id === undefined ? null : indexOf.get(m.parent_id);
      if (parentIndex === undefined) throw invalidField(`messages.${i}.parent_id`, 'must be the id of an earlier message');
      indexOf.set(m.id, i);
      if (m.role === 'tool' && !m.tool_call_id) throw invalidField(`messages.${i}.tool_call_id`, 'is required on tool messages');
      const parts = m.parts.map((p, j) => this.checkedPart(p, m.role, `messages.${i}.parts.${j}`));
      return {
        parentIndex,
        role: m.role,
        content: parts.length ? textOf(parts) : m.content,
        parts: parts.length ? parts : m.content ? [{ type: 'text', text: m.content }] : [],
        toolCallId: m.role === 'tool' ? m.tool_call_id : null,
        model: m.model ?? null,
        status: m.status === 'in_progress' ? 'incomplete' : m.status,
        finishReason: m.finish_reason ?? null,
        tokensInput: m.tokens_input,
        tokensOutput: m.tokens_output,
        tokensCached: m.tokens_cached,
        tokensReasoning: m.tokens_reasoning,
        usageEstimated: m.usage_estimated,
        cost: m.cost,
        createdAt: new Date(m.created_at),
      };
    });
  }

  /** @throws 422 naming `field` when the part is malformed or its kind is not one `role` may hold */
  private checkedPart(part: unknown, role: MessageRole, field: string): ContentPart {
    const p = part as Record<string, unknown>;
    const str = (key: string, max: number) => {
      if (typeof p[key] !== 'string' || (p[key]).length > max) throw invalidField(`${field}.${key}`, `must be a string of at most ${max} characters`);
      return p[key];
    };
    const type = typeof p.type === 'string' ? p.type : '';
    if (!['text', 'image', 'tool_call'].includes(type)) throw invalidField(`${field}.type`, 'must be text, image or tool_call');
    if (!PARTS_BY_ROLE[role].includes(type)) throw invalidField(`${field}.type`, `${role} messages can't hold ${type} parts`);
    if (type === 'text') return { type: 'text', text: str('text', 1_000_000) };
    if (type === 'tool_call') return { type: 'tool_call', id: str('id', 128), name: str('name', 64), arguments: str('arguments', 1_000_000) };
    const url = str('url', 20 * 1024 * 1024);
    if (!/^(data:image\/|https:\/\/)/.test(url)) throw invalidField(`${field}.url`, 'must be a data: image URL or an https: URL');
    const image: ContentPart = { type: 'image', url };
    if (p.media_type !== undefined) {
      if (!IMAGE_MEDIA_TYPES.includes(p.media_type as never)) throw invalidField(`${field}.media_type`, `must be one of ${IMAGE_MEDIA_TYPES.join(', ')}`);
      Object.assign(image, { media_type: p.media_type });
    }
    if (p.detail !== undefined) {
      if (!['auto', 'low', 'high'].includes(p.detail as string)) throw invalidField(`${field}.detail`, 'must be auto, low or high');
      Object.assign(image, { detail: p.detail });
    }
    for (const key of ['width', 'height', 'bytes'] as const) {
      if (Number.isInteger(p[key]) && (p[key] as number) >= 0) Object.assign(image, { [key]: p[key] });
    }
    return image;
  }
}
