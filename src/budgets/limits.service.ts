import { Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { notFound } from '../common/problem';
import { ApplicationsRepository } from '../applications/applications.repository';
import { ModelRegistry } from '../providers/model-registry';
import { UsersRepository } from '../users/users.repository';
import { LimitsReportDto } from './budgets.dto';
import { BudgetsService, BudgetSubject } from './budgets.service';

/** Limits reports: a user's (tier and user overrides) and an application's (all three), with what is used and left. */
@Injectable()
export class LimitsService {
  constructor(
    private readonly budgets: BudgetsService,
    private readonly users: UsersRepository,
    private readonly applications: ApplicationsRepository,
    private readonly registry: ModelRegistry,
  ) {}

  /** @throws 404 unknown user */
  async report(userId: number): Promise<LimitsReportDto> {
    const user = await this.users.findPrincipal(userId);
    if (!user) throw notFound('User');
    return this.reportOf({ userId: user.id, tier: user.tier, applicationId: null, userLimits: user.limits, applicationLimits: null });
  }

  /**
   * An application's limits: its owner's (user token) or any (admin); an API key sees only its own application's.
   * @throws 404 unknown application, or not the caller's
   */
  async applicationReport(caller: AuthenticatedUser, applicationId: number): Promise<LimitsReportDto> {
    const mayRead = caller.applicationId === null || caller.applicationId === applicationId;
    const app = mayRead ? await this.applications.findVisible(caller.id, caller.role === 'admin' && caller.applicationId === null, applicationId) : null;
    if (!app) throw notFound('Application');
    const owner = await this.users.findPrincipal(app.userId);
    if (!owner) throw notFound('Application');
    return {
      ...(await this.reportOf({ userId: owner.id, tier: owner.tier, applicationId: app.id, userLimits: owner.limits, applicationLimits: app.limits })),
      application_id: app.id,
      application_overrides: app.limits,
    };
  }

  private async reportOf(subject: BudgetSubject): Promise<LimitsReportDto> {
    const effective = this.budgets.effective(subject);
    const lists = effective.allowedModels;
    const allowed =
      lists.length === 0
        ? null
        : lists.length === 1
          ? lists[0]
          : this.registry
              .list()
              .filter((m) => this.budgets.allows(subject, m))
              .map((m) => m.id);
    return {
      tier: subject.tier,
      limits: await this.budgets.state(subject),
      allowed_models: allowed,
      max_output_tokens: effective.maxOutputTokens,
      user_overrides: subject.userLimits,
    };
  }
}
