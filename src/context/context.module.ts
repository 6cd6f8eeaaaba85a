import { BudgetsModule } from '../budgets/budgets.module';
import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module';
import { FilesModule } from '../files/files.module';
import { ProvidersModule } from '../providers/providers.module';
import { UsageModule } from '../usage/usage.module';
import { ContextController } from './context.controller';
import { ContextRepository } from './context.repository';
import { ContextService } from './context.service';
import { SummariesService } from './summaries.service';

/**
 * What a model is sent: the context builder and its budget, rolling summaries, and the context
 * preview route. The messages module asks it for every send.
 */
@Module({
  imports: [ChatsModule, FilesModule, ProvidersModule, UsageModule, BudgetsModule],
  controllers: [ContextController],
  providers: [
    ContextService,
    ContextRepository,
    SummariesService,
  ],
  exports: [ContextService, SummariesService],
})
export class ContextModule {}
