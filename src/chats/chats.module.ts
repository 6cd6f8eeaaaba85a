import { BudgetsModule } from '../budgets/budgets.module';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MessageEntity } from '../messages/message.entity';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { PromptsModule } from '../prompts/prompts.module';
import { ProvidersModule } from '../providers/providers.module';
import { SearchModule } from '../search/search.module';
import { UsageModule } from '../usage/usage.module';
import { ChatSessionEntity } from './chat-session.entity';
import { ChatSessionsRepository } from './chat-sessions.repository';
import { ChatsController } from './chats.controller';
import { ChatsService } from './chats.service';
import { SessionTitlesService } from './session-titles.service';

/**
 * Chat sessions and their titles. `ChatSessionsRepository` is the only writer of `chat_sessions` (other modules call
 * its intent-named methods in their transactions). Reads messages for history answers, and matches them through the
 * search module for the lists' `search`; writing them is the messages module's job.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ChatSessionEntity, MessageEntity]), ProvidersModule, PromptsModule, UsageModule, IdempotencyModule, BudgetsModule, SearchModule],
  controllers: [ChatsController],
  providers: [ChatsService, ChatSessionsRepository, SessionTitlesService],
  exports: [ChatsService, ChatSessionsRepository, SessionTitlesService],
})
export class ChatsModule {}
