import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { AppConfig, appConfig } from '../config/app-config';
import { usageDto } from './answer-events';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { notFound, ProblemException } from '../common/problem';
import { AnswerStateDto, ChatCompletionDto, MessagePageDto, TreeMessageDto } from './dto/chat-completion.dto';
import { GenerationsService } from './generations.service';
import { MessageEntity } from './message.entity';
import { ListMessagesQueryDto } from './dto/list-messages-query.dto';
import { MessagesRepository } from './messages.repository';

/**
 * Reading a session's stored messages and answers, and stopping an answer (sending is the turn engine's job,
 * `ChatTurnService`; running it durably is {@link GenerationsService}'s).
 */
@Injectable()
export class MessagesService {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly chats: ChatsService,
    private readonly generations: GenerationsService,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
  ) {}

  /** @throws 404 when the message is not an answer in one of the caller's sessions */
  async answer(user: AuthenticatedUser, id: number): Promise<MessageEntity> {
    const message = await this.messages.findOwnedAnswer(user.id, id);
    if (!message) throw notFound('Message');
    return message;
  }

  /** An answer's status, text so far (its last checkpoint while in progress), usage, cost and model. */
  async state(user: AuthenticatedUser, id: number): Promise<AnswerStateDto> {
    return AnswerStateDto.from(await this.answer(user, id));
  }

  /**
   * Stops an answer on whichever instance generates it; it is stored `cancelled` with the text produced so far.
   * @returns the answer's state once stopped (or, when its instance has not confirmed within a few seconds, as it is)
   * @throws 404 not the caller's answer; 409 the answer has already ended
   */
  async cancel(user: AuthenticatedUser, id: number): Promise<AnswerStateDto> {
    const message = await this.answer(user, id);
    if (message.status !== 'in_progress') {
      throw new ProblemException(HttpStatus.CONFLICT, `This answer has already ended (status "${message.status}"); only an answer in progress can be cancelled.`);
    }
    await this.generations.cancel(id);
    let current = await this.answer(user, id);
    for (let waited = 0; current.status === 'in_progress' && waited < 3000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      current = await this.answer(user, id);
    }
    return AnswerStateDto.from(current);
  }

  /**
   * A stored answer as the JSON answer of a send, once it has ended (polled every `streams.follow_check_ms`
   * while it is in progress): for a repeated send whose answer's log has expired.
   * @param stop true when the caller no longer waits
   * @throws 404 not the caller's answer; the answer's problem (502) when it failed
   */
  async completion(user: AuthenticatedUser, id: number, stop: () => boolean): Promise<ChatCompletionDto> {
    let row = await this.answer(user, id);
    while (row.status === 'in_progress' && !stop()) {
      await new Promise((r) => setTimeout(r, this.config.streams.follow_check_ms));
      row = await this.answer(user, id);
    }
    if (row.status === 'failed') throw new ProblemException(HttpStatus.BAD_GATEWAY, row.error ?? 'The answer failed.');
    const session = await this.chats.findOwned(user.id, row.sessionId);
    const usage = { inputTokens: row.tokensInput, outputTokens: row.tokensOutput, cachedInputTokens: row.tokensCached, reasoningTokens: row.tokensReasoning, estimated: row.usageEstimated };
    return {
      id: row.id,
      session_id: row.sessionId,
      model: row.model ?? '',
      output_text: row.content,
      message: { role: 'assistant', content: row.content, parts: row.parts },
      title: session.title,
      message_count: session.messageCount,
      usage: usageDto(usage),
      cost: row.cost,
      finish_reason: row.finishReason ?? row.status,
    };
  }

  /**
   * A page of a session's messages, oldest first (keyset pagination): its active branch, or (`branch=all`) every
   * message of its tree. @throws 404 not the caller's session
   */
  async list(user: AuthenticatedUser, sessionId: number, q: ListMessagesQueryDto): Promise<MessagePageDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const offset = q.page === undefined ? 0 : (q.page - 1) * q.page_size;
    const read = q.branch === 'all' ? this.messages.treePage.bind(this.messages) : this.messages.branchPage.bind(this.messages);
    const { items, more } = await read(session.id, q.after_id ?? 0, q.page_size, offset);
    return {
      total: session.messageCount,
      page: q.page ?? null,
      page_size: q.page_size,
      items: items.map(TreeMessageDto.fromTree),
      next_after_id: more ? items[items.length - 1].message.id : null,
    };
  }
}
