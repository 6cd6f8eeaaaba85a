import { Inject, Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { allowsModel } from '../config/allowed-models';
import { AppConfig, appConfig } from '../config/app-config';
import { BudgetLimits } from '../config/file-config';
import { RegisteredModel } from '../providers/model-registry';
import { RedisConnection } from '../rate-limit/redis.provider';
import { UsageRepository } from '../usage/usage.repository';
import { BudgetCounters, CounterCharge, MemoryBudgetCounters, RedisBudgetCounters } from './budget-counters';
import { BudgetError } from './budget-errors';

/** USD are counted in units of 1e-8, the precision of the ledger's `numeric(18,8)` cost columns. */
const USD_UNITS = 1e8;

/** The limits counted per window; `allowed_models` and `max_output_tokens` are checked, not counted. */
type CountedLimit = 'tokens_per_minute' | 'daily_tokens' | 'daily_cost_usd' | 'monthly_cost_usd';
type Window = 'minute' | 'day' | 'month';

const WINDOW_OF: Record<CountedLimit, Window> = {
  tokens_per_minute: 'minute',
  daily_tokens: 'day',
  daily_cost_usd: 'day',
  monthly_cost_usd: 'month',
};
const COUNTED: CountedLimit[] = ['tokens_per_minute', 'daily_tokens', 'daily_cost_usd', 'monthly_cost_usd'];

/** The worst case of a send, reserved before the provider is called. */
export interface BudgetClaim {
  /** Input tokens as counted + the output tokens asked for. */
  tokens: number;
  /** USD at the registry's prices. */
  costUsd: number;
}

/** A reservation to settle once the answer's real usage is known. */
export interface BudgetReservation {
  userId: number;
  claim: BudgetClaim;
  /** The counters charged, and the amount each got (integer units). */
  charged: { key: string; amount: number; unit: 'tokens' | 'usd' }[];
}

/** One limit as `GET /v1/users/me/limits` shows it. */
export interface LimitState {
  name: CountedLimit;
  window: Window;
  /** Null: unlimited. */
  limit: number | null;
  used: number;
  /** Null: unlimited. */
  remaining: number | null;
  resets_at: string;
}

/**
 * Token and cost budgets per tier (`rate_limits.tiers.*` in the configuration), enforced before a provider is
 * called: the worst case of a send is reserved atomically against every limit that applies, and settled to the real
 * usage after the answer. Counters live in Redis with `REDIS_URL` (shared by every instance, atomic scripts),
 * else in this process (correct for a single instance only). The usage ledger in PostgreSQL is the source of truth:
 * a missing counter (a new window, or a Redis that lost its data) is rebuilt from it. Windows are UTC.
 */
@Injectable()
export class BudgetsService {
  private readonly counters: BudgetCounters;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly usage: UsageRepository,
    redis: RedisConnection,
  ) {
    this.counters = redis.client
      ? new RedisBudgetCounters(redis.client, config.budgets.redis_key_prefix)
      : new MemoryBudgetCounters();
  }

  /** The tier's limits of `user` (the free tier's for an unknown tier). */
  limitsOf(user: Pick<AuthenticatedUser, 'tier'>): BudgetLimits {
    const tiers = this.config.rateLimits.tiers;
    return tiers[user.tier] ?? tiers.free;
  }

  /** @returns whether `model` is within `allowed_models` (an id or alias, or a prefix ending in `*`), case-insensitive */
  allows(limits: BudgetLimits, model: Pick<RegisteredModel, 'id' | 'aliases'>): boolean {
    return allowsModel(limits, model);
  }

  /**
   * Refuses a model outside the caller's `allowed_models`.
   * @throws BudgetError `budget.model_not_allowed`
   */
  checkModel(user: AuthenticatedUser, model: RegisteredModel): void {
    const limits = this.limitsOf(user);
    if (this.allows(limits, model)) return;
    throw new BudgetError('budget.model_not_allowed', `The model ${model.id} is not allowed for your tier (allowed_models: ${limits.allowed_models!.join(', ')}).`, {
      limit: 'allowed_models',
      model: model.id,
    });
  }

  /**
   * Reserves `claim` against every counted limit of the caller at once: all or nothing, across instances.
   * @throws BudgetError `budget.tokens_per_minute` or `budget.exceeded` naming the limit, window and reset
   */
  async reserve(user: AuthenticatedUser, claim: BudgetClaim, now = new Date()): Promise<BudgetReservation> {
    const limits = this.limitsOf(user);
    const applicable = COUNTED.filter((name) => limits[name] != null);
    const charges = applicable.map((name) => this.charge(user.id, name, limits[name]!, claim, now));
    const outcome = await this.counters.reserve(charges);
    if (!outcome.ok) {
      const name = applicable[outcome.refused];
      const resetsAt = windowEnd(WINDOW_OF[name], now);
      const retryAfter = Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000));
      const shown = (units: number) => (isCost(name) ? units / USD_UNITS : units);
      throw new BudgetError(
        name === 'tokens_per_minute' ? 'budget.tokens_per_minute' : 'budget.exceeded',
        `This send could need ${shown(charges[outcome.refused].amount)} ${isCost(name) ? 'USD' : 'tokens'}, beyond what is left of ${name} ` +
          `(${limits[name]} per ${WINDOW_OF[name]}, ${shown(outcome.current)} used); it resets at ${resetsAt.toISOString()}.`,
        { limit: name, window: WINDOW_OF[name], limit_value: limits[name], used: shown(outcome.current), resets_at: resetsAt.toISOString() },
        retryAfter,
      );
    }
    return {
      userId: user.id,
      claim,
      charged: charges.map((c, i) => ({ key: c.key, amount: c.amount, unit: isCost(applicable[i]) ? 'usd' : 'tokens' })),
    };
  }

  /** Replaces a reservation's worst case with the answer's real usage (gives back what was not spent). */
  async settle(reservation: BudgetReservation, actual: BudgetClaim): Promise<void> {
    await this.counters.adjust(
      reservation.charged.map((c) => ({
        key: c.key,
        delta: (c.unit === 'usd' ? Math.round(actual.costUsd * USD_UNITS) : actual.tokens) - c.amount,
      })),
    );
  }

  /** Each counted limit of `user` with what is used and left in its current window. */
  async state(user: Pick<AuthenticatedUser, 'id' | 'tier'>, now = new Date()): Promise<LimitState[]> {
    const limits = this.limitsOf(user);
    const charges = COUNTED.map((name) => this.charge(user.id, name, Number.MAX_SAFE_INTEGER, { tokens: 0, costUsd: 0 }, now));
    const used = await this.counters.read(charges);
    return COUNTED.map((name, i) => {
      const limit = limits[name] ?? null;
      const value = isCost(name) ? used[i] / USD_UNITS : used[i];
      return {
        name,
        window: WINDOW_OF[name],
        limit,
        used: value,
        remaining: limit === null ? null : Math.max(0, isCost(name) ? roundUsd(limit - value) : limit - value),
        resets_at: windowEnd(WINDOW_OF[name], now).toISOString(),
      };
    });
  }

  private charge(userId: number, name: CountedLimit, limit: number, claim: BudgetClaim, now: Date): CounterCharge {
    const window = WINDOW_OF[name];
    const start = windowStart(window, now);
    const day = start.toISOString().slice(0, 10);
    const cost = isCost(name);
    return {
      key: `u:${userId}:${name}:${start.toISOString()}`,
      amount: cost ? Math.round(claim.costUsd * USD_UNITS) : claim.tokens,
      limit: cost ? Math.round(limit * USD_UNITS) : limit,
      expiresAt: windowEnd(window, now).getTime(),
      // The ledger is kept per UTC day: it rebuilds the day and month windows; a minute's tokens start afresh.
      seed: async () => {
        if (window === 'minute') return 0;
        const spent = await this.usage.spentSince(userId, day);
        return cost ? spent.cost * USD_UNITS : spent.tokens;
      },
    };
  }
}

const isCost = (name: CountedLimit) => name === 'daily_cost_usd' || name === 'monthly_cost_usd';
const roundUsd = (usd: number) => Math.round(usd * USD_UNITS) / USD_UNITS;

function windowStart(window: Window, now: Date): Date {
  if (window === 'minute') return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  if (window === 'day') return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

function windowEnd(window: Window, now: Date): Date {
  const start = windowStart(window, now);
  if (window === 'minute') return new Date(start.getTime() + 60_000);
  if (window === 'day') return new Date(start.getTime() + 86_400_000);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}
