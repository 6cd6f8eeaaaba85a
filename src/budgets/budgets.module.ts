import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { BudgetTurnHook } from './budget-turn-hook';
import { BudgetsService } from './budgets.service';
import { LimitsController } from './limits.controller';
import { LimitsService } from './limits.service';

/**
 * Token and cost budgets per tier: the reservation the turn engine makes before calling a provider
 * ({@link BudgetTurnHook}) and `GET /v1/users/me/limits`. Redis comes from the global rate-limit module.
 */
@Module({
  imports: [UsageModule, UsersModule],
  controllers: [LimitsController],
  providers: [BudgetsService, BudgetTurnHook, LimitsService],
  exports: [BudgetsService, BudgetTurnHook],
})
export class BudgetsModule {}
