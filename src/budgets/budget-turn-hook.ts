import { Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import type { SettledTurn, TurnHook, TurnLimits, TurnPlan } from '../messages/chat-turn.service';
import { costOf } from '../providers/model-registry';
import { BudgetReservation, BudgetsService } from './budgets.service';

/**
 * The turn engine's budget hook: while the send is planned it gives the caller's `max_output_tokens` and
 * `allowed_models` (a fallback outside them is never called); before the provider is called it checks the model and
 * reserves the send's worst case (input tokens as counted × input price + the `max_tokens` sent × output price, the
 * dearest model of the chain, fallbacks included); once the answer is settled it settles the reservation to the
 * real usage.
 */
@Injectable()
export class BudgetTurnHook implements TurnHook {
  private readonly reservations = new WeakMap<TurnPlan, BudgetReservation>();

  constructor(private readonly budgets: BudgetsService) {}

  limits(user: AuthenticatedUser): TurnLimits {
    const subject = this.budgets.subjectOf(user);
    const { maxOutputTokens, allowedModels } = this.budgets.effective(subject);
    return {
      maxOutputTokens: maxOutputTokens ?? undefined,
      allowsModel: allowedModels.length ? (model) => this.budgets.allows(subject, model) : undefined,
    };
  }

  /** @throws BudgetError refusing the send (nothing is stored, no provider called) */
  async beforeProvider(plan: TurnPlan): Promise<void> {
    const subject = this.budgets.subjectOf(plan.user);
    this.budgets.checkModel(subject, plan.route.model);
    let tokens = 0;
    let costUsd = 0;
    for (const model of plan.route.models) {
      let fitted;
      try {
        fitted = model === plan.route.model ? plan.context : plan.context.refit(model);
      } catch {
        continue; // a fallback the conversation doesn't fit is never called
      }
      const output = fitted.accounting.budget.reservedOutput;
      const input = fitted.accounting.tokens.total;
      tokens = Math.max(tokens, input + output);
      costUsd = Math.max(costUsd, costOf(model, { inputTokens: input, outputTokens: output }));
    }
    const reservation = await this.budgets.reserve(subject, { tokens, costUsd });
    this.reservations.set(plan, reservation);
    plan.quotas.push(...reservation.quotas);
  }

  async afterSettled({ plan, outcome }: SettledTurn): Promise<void> {
    const reservation = this.reservations.get(plan);
    if (!reservation) return;
    this.reservations.delete(plan);
    await this.budgets.settle(reservation, { tokens: outcome.tokensInput + outcome.tokensOutput, costUsd: outcome.cost });
  }
}
