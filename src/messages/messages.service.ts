import { Injectable } from '@nestjs/common';
import { ChatsService } from '../chats/chats.service';
import { AuthenticatedUser } from '../common/authenticated-user';
import { MessageDto, MessagePageDto } from './dto/chat-completion.dto';
import { ListMessagesQueryDto } from './dto/list-messages-query.dto';
import { MessagesRepository } from './messages.repository';

/** Reading a session's stored messages (sending is the turn engine's job, `ChatTurnService`). */
@Injectable()
export class MessagesService {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly chats: ChatsService,
  ) {}

  /** A page of a session's messages, oldest first (keyset pagination). @throws 404 not the caller's session */
  async list(user: AuthenticatedUser, sessionId: number, q: ListMessagesQueryDto): Promise<MessagePageDto> {
    const session = await this.chats.findOwned(user.id, sessionId);
    const { items, more } = await this.messages.page(session.id, q.after_id ?? 0, q.page_size);
    return {
      total: session.messageCount,
      page_size: q.page_size,
      items: items.map(MessageDto.from),
      next_after_id: more ? items[items.length - 1].id : null,
    };
  }
}
