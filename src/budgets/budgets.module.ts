import { Module } from '@nestjs/common';
import { ApplicationsModule } from '../applications/applications.module';
import { CredentialsModule } from '../credentials/credentials.module';
import { ProvidersModule } from '../providers/providers.module';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { BudgetTurnHook } from './budget-turn-hook';
import { BudgetsService } from './budgets.service';
import { ApplicationLimitsController, LimitsController } from './limits.controller';
import { LimitsService } from './limits.service';

/**
 * Token and cost budgets per tier, user and application: the reservation the turn engine makes before calling a
 * provider ({@link BudgetTurnHook}), `GET /v1/users/me/limits` and `GET /v1/applications/{id}/limits`. Redis comes from the global rate-limit module.
 */
@Module({
  imports: [UsageModule, UsersModule, ApplicationsModule, CredentialsModule, ProvidersModule],
  controllers: [LimitsController, ApplicationLimitsController],
  providers: [BudgetsService, BudgetTurnHook, LimitsService],
  exports: [BudgetsService, BudgetTurnHook],
})
export class BudgetsModule {}
