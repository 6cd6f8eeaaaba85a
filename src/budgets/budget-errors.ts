import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { QuotaState } from '../common/quota';

/**
 * A send refused by the caller's budgets before any provider was called (OWASP LLM10, unbounded consumption):
 * `budget.exceeded` (429) a spending or daily-token limit, `budget.tokens_per_minute` (429) the token rate,
 * `budget.model_not_allowed` (403) a model outside `allowed_models`. The problem names the limit, its window and
 * when it resets (`Retry-After`, and the refusing limit's RateLimit fields with nothing remaining).
 */
export class BudgetError extends DomainError {
  constructor(
    readonly code: Extract<DomainErrorCode, `budget.${string}`>,
    message: string,
    override readonly extensions: Record<string, unknown>,
    override readonly retryAfterSeconds?: number,
    override readonly quotas?: QuotaState[],
  ) {
    super(message);
  }
}
