import { BudgetsModule } from '../budgets/budgets.module';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProvidersModule } from '../providers/providers.module';
import { UsageModule } from '../usage/usage.module';
import { PromptVersionEntity } from './prompt-version.entity';
import { PromptEntity } from './prompt.entity';
import { PromptsController } from './prompts.controller';
import { PromptsRepository } from './prompts.repository';
import { PromptsService } from './prompts.service';

/** Prompt templates (the API guide's prompt management). Exports the service so sessions can start from a prompt. */
@Module({
  imports: [TypeOrmModule.forFeature([PromptEntity, PromptVersionEntity]), ProvidersModule, UsageModule, BudgetsModule],
  controllers: [PromptsController],
  providers: [PromptsService, PromptsRepository],
  exports: [PromptsService],
})
export class PromptsModule {}
