import { Injectable } from '@nestjs/common';
import type { SettledTurn, TurnHook, TurnPlan } from '../messages/chat-turn.service';
import { costOf } from '../providers/model-registry';
import { BudgetReservation, BudgetsService } from './budgets.service';

/**
 * The turn engine's budget hook: before the provider is called it checks `allowed_models` and reserves the send's
 * worst case (input tokens as counted × input price + the `max_tokens` sent × output price, the dearest model of the
 * chain, fallbacks included); once the answer is settled it settles the reservation to the real usage.
 */
@Injectable()
export class BudgetTurnHook implements TurnHook {
  private readonly reservations = new WeakMap<TurnPlan, BudgetReservation>();

  constructor(private readonly budgets: BudgetsService) {}

  /** @throws BudgetError refusing the send (nothing is stored, no provider called) */
  async beforeProvider(plan: TurnPlan): Promise<void> {
    this.budgets.checkModel(plan.user, plan.route.model);
    let tokens = 0;
    let costUsd = 0;
    for (const model of plan.route.models) {
      if (!this.budgets.allows(this.budgets.limitsOf(plan.user), model)) continue;
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
    this.reservations.set(plan, await this.budgets.reserve(plan.user, { tokens, costUsd }));
  }

  async afterSettled({ plan, outcome }: SettledTurn): Promise<void> {
    const reservation = this.reservations.get(plan);
    if (!reservation) return;
    this.reservations.delete(plan);
    await this.budgets.settle(reservation, { tokens: outcome.tokensInput + outcome.tokensOutput, costUsd: outcome.cost });
  }
}

