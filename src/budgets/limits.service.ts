import { Injectable } from '@nestjs/common';
import { notFound } from '../common/problem';
import { UsersRepository } from '../users/users.repository';
import { LimitsReportDto } from './budgets.dto';
import { BudgetsService } from './budgets.service';

/** The limits report of a user: its tier's limits with what is used and left. */
@Injectable()
export class LimitsService {
  constructor(
    private readonly budgets: BudgetsService,
    private readonly users: UsersRepository,
  ) {}

  /** @throws 404 unknown user */
  async report(userId: number): Promise<LimitsReportDto> {
    const user = await this.users.findPrincipal(userId);
    if (!user) throw notFound('User');
    const limits = this.budgets.limitsOf(user);
    return {
      tier: user.tier,
      limits: await this.budgets.state(user),
      allowed_models: limits.allowed_models ?? null,
      max_output_tokens: limits.max_output_tokens ?? null,
    };
  }
}
