import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ChatSessionEntity } from '../chats/chat-session.entity';
import { ChatSessionsRepository } from '../chats/chat-sessions.repository';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { DomainError } from '../common/domain-error';
import { notFound } from '../common/problem';
import { FilesService } from '../files/files.service';
import type { TurnRequest } from './chat-turn.service';
import type { EditMessageDto, RegenerateMessageDto } from './dto/branch.dto';
import type { SendMessageDto } from './dto/send-message.dto';
import { MessageEntity } from './message.entity';
import { MessagesRepository } from './messages.repository';

/** A branch operation on a message of the wrong role: regenerating a question, editing an answer (409). */
export class MessageRoleError extends DomainError {
  readonly code = 'message.wrong_role' as const;
}

/** A turn that branches off: the body of the send it makes, and the message the new turn follows. */
export interface BranchSend {
  send: SendMessageDto;
  /** See {@link TurnRequest.parent_id}. */
  parentId: TurnRequest['parent_id'];
}

/**
 * The message tree of a session: alternative versions of a message (an edited question, a regenerated answer),
 * the active branch, and forks into a new session. The new turns themselves are made by the turn engine; this
 * service says where they go. The summary of a session only ever covers messages of its active branch: a branch
 * that leaves its last covered message out drops it.
 */
@Injectable()
export class BranchesService {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly sessions: ChatSessionsRepository,
    private readonly chats: ChatsService,
    private readonly files: FilesService,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /**
   * A new answer to the question answered by message `id`: a sibling of that answer.
   * @throws 404 not a message of the caller's; MessageRoleError (409) not an answer
   */
  async regenerate(user: AuthenticatedUser, id: number, dto: RegenerateMessageDto): Promise<BranchSend> {
    const message = await this.owned(user, id);
    if (message.role !== 'assistant') {
      throw new MessageRoleError(`Message ${id} is a ${message.role} message: only an answer can be regenerated (edit a question instead).`);
    }
    await this.keepSummaryOn(user, message);
    return { send: { ...dto, session_id: message.sessionId, messages: [] }, parentId: message.parentId };
  }

  /**
   * A new version of the question in message `id` (a sibling of it), to be answered.
   * @throws 404 not a message of the caller's; MessageRoleError (409) not a user message
   */
  async edit(user: AuthenticatedUser, id: number, dto: EditMessageDto): Promise<BranchSend> {
    const message = await this.owned(user, id);
    if (message.role !== 'user') {
      throw new MessageRoleError(`Message ${id} is a ${message.role} message: only a question (a user message) can be edited (regenerate an answer instead).`);
    }
    await this.keepSummaryOn(user, message);
    const { content, ...options } = dto;
    return { send: { ...options, session_id: message.sessionId, messages: [{ role: 'user', content }] }, parentId: message.parentId };
  }

  /**
   * Makes the branch through message `messageId` the session's active one, down to the newest message under it.
   * @returns the session
   * @throws 404 not the caller's session, or not a message of it
   */
  async setActiveLeaf(user: AuthenticatedUser, sessionId: number, messageId: number): Promise<ChatSessionEntity> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const leaf = await this.messages.newestLeafUnder(session.id, messageId);
    if (leaf === null) throw notFound('Message');
    const dropSummary = session.summaryMessageId !== null && !(await this.messages.isOnBranch(leaf, session.summaryMessageId));
    const updated = await this.sessions.setActiveLeaf(user.id, session.id, leaf, dropSummary);
    if (!updated) throw notFound('Chat session');
    return updated;
  }

  /**
   * A new session of the caller's holding the branch of session `sessionId` from its first message up to message
   * `messageId` (copies, one chain), with the origin's system prompt, model, title, metadata and files; it records
   * where it came from. Its usage totals start at zero: the copies' usage was spent (and counted) in the origin.
   * One transaction.
   * @throws 404 not the caller's session, or not a message of it
   */
  async fork(user: AuthenticatedUser, sessionId: number, messageId: number): Promise<ChatSessionEntity> {
    const origin = await this.chats.findOwned(user.id, sessionId);
    if ((await this.messages.newestLeafUnder(origin.id, messageId)) === null) throw notFound('Message');
    return this.db.transaction(async (tx) => {
      const session = await this.sessions.insert(
        {
          userId: user.id,
          applicationId: origin.applicationId,
          model: origin.model,
          title: origin.title,
          systemPrompt: origin.systemPrompt,
          metadata: origin.metadata,
          promptId: origin.promptId,
          promptVersion: origin.promptVersion,
          forkedFromSessionId: origin.id,
          forkedFromMessageId: messageId,
        },
        tx,
      );
      const copied = await this.messages.copyBranch(tx, messageId, session.id);
      await this.sessions.recordCopiedMessages(tx, session.id, copied.count, copied.leafId);
      await this.files.copySessionFiles(tx, origin.id, session.id);
      return Object.assign(session, { messageCount: copied.count, activeLeafId: copied.leafId });
    });
  }

  /** @throws 404 when message `id` is not in one of the caller's sessions */
  private async owned(user: AuthenticatedUser, id: number): Promise<MessageEntity> {
    const message = await this.messages.findOwned(user.id, id);
    if (!message) throw notFound('Message');
    return message;
  }

  /**
   * Before a turn branches off as a sibling of `message`: drops the session's summary unless the last message it
   * covers is on the new branch (an ancestor of the new turn).
   */
  private async keepSummaryOn(user: AuthenticatedUser, message: MessageEntity): Promise<void> {
    const covered = (await this.chats.findOwned(user.id, message.sessionId)).summaryMessageId;
    if (covered === null) return;
    if (message.parentId !== null && (await this.messages.isOnBranch(message.parentId, covered))) return;
    await this.sessions.dropSummary(message.sessionId);
  }
}
