import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatsModule } from '../chats/chats.module';
import { BudgetsModule } from '../budgets/budgets.module';
import { BudgetTurnHook } from '../budgets/budget-turn-hook';
import { ContextModule } from '../context/context.module';
import { FilesModule } from '../files/files.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ImagesModule } from '../images/images.module';
import { ProvidersModule } from '../providers/providers.module';
import { StreamsModule } from '../streams/streams.module';
import { UsageModule } from '../usage/usage.module';
import { ChatTurnService, TURN_HOOKS } from './chat-turn.service';
import { GenerationsService } from './generations.service';
import { MessageEntity } from './message.entity';
import { ChatCompletionsController } from './chat-completions.controller';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { MessagesService } from './messages.service';
import { BranchesService } from './branches.service';
import { ChatCompletionsTransport } from './transports/chat-completions.transport';
import { TurnTransports } from './transports/turn-transports';

/** Sending turns to models (SSE, JSON, and OpenAI's Chat Completions format) and reading a session's messages. */
@Module({
  imports: [TypeOrmModule.forFeature([MessageEntity]), ChatsModule, ProvidersModule, ContextModule, UsageModule, BudgetsModule, StreamsModule, IdempotencyModule, ImagesModule, FilesModule],
  controllers: [MessagesController, ChatCompletionsController],
  providers: [
    BranchesService,
    ChatTurnService,
    // The turn engine's extension points (see TurnHook): budgets reserve before the provider, settle after.
    { provide: TURN_HOOKS, useFactory: (budgets: BudgetTurnHook) => [budgets], inject: [BudgetTurnHook] },
    GenerationsService,
    TurnTransports,
    ChatCompletionsTransport,
    MessagesService,
    MessagesRepository,
  ],
  exports: [ChatTurnService, MessagesRepository],
})
export class MessagesModule {}
