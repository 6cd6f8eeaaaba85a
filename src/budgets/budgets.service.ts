import { Inject, Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { QuotaState } from '../common/quota';
import { allowsModel } from '../config/allowed-models';
import { AppConfig, appConfig } from '../config/app-config';
import { BudgetLimits } from '../config/file-config';
import { AuthInvalidation, AuthInvalidationBus } from '../credentials/auth-invalidation.bus';
import { ModelUsage } from '../providers/model-provider';
import { costOf, RegisteredModel } from '../providers/model-registry';
import { RedisConnection } from '../rate-limit/redis.provider';
import { UsageRepository } from '../usage/usage.repository';
import { BudgetCounters, CounterCharge, MemoryBudgetCounters, RedisBudgetCounters } from './budget-counters';
import { BudgetError } from './budget-errors';

/** USD are counted in units of 1e-8, the precision of the ledger's `numeric(18,8)` cost columns. */
const USD_UNITS = 1e8;

/** The limits counted per window; `allowed_models` and `max_output_tokens` are checked, not counted. */
export type CountedLimit = 'tokens_per_minute' | 'daily_tokens' | 'daily_cost_usd' | 'monthly_cost_usd';
type Window = 'minute' | 'day' | 'month';
/** Where a limit was set: the tier in the configuration, an override on the user, or one on the application. */
export type LimitLevel = 'tier' | 'user' | 'application';

const WINDOW_OF: Record<CountedLimit, Window> = {
  tokens_per_minute: 'minute',
  daily_tokens: 'day',
  daily_cost_usd: 'day',
  monthly_cost_usd: 'month',
};
const COUNTED: CountedLimit[] = ['tokens_per_minute', 'daily_tokens', 'daily_cost_usd', 'monthly_cost_usd'];

/** Whose budgets a model call is checked against: a user, its tier and overrides, and the application of its key. */
export interface BudgetSubject {
  userId: number;
  tier: string;
  /** The application whose API key makes the call; null for a user access token. */
  applicationId: number | null;
  /** Overrides set on the user; null: none. */
  userLimits: BudgetLimits | null;
  /** Overrides set on the application (ignored without `applicationId`); null: none. */
  applicationLimits: BudgetLimits | null;
}

/** The limits in force for a subject: each the tightest of tier, user and application. */
export interface EffectiveLimits {
  counted: Record<CountedLimit, number | null>;
  /** Every list that applies (tier, user, application); a model must be allowed by all. Empty: any model. */
  allowedModels: string[][];
  /** Null: the model's own maximum. */
  maxOutputTokens: number | null;
}

/** The worst case of a send, reserved before the provider is called. */
export interface BudgetClaim {
  /** Input tokens as counted + the output tokens asked for. */
  tokens: number;
  /** USD at the registry's prices. */
  costUsd: number;
}

/**
 * A counted limit after a reservation, as the RateLimit headers advertise it: named after the limit for the user's
 * counter (`daily_cost_usd`), prefixed `application_` for the application's; `level` says where it was set.
 */
export interface BudgetQuota extends QuotaState {
  limit: CountedLimit;
  level: LimitLevel;
}

/** A reservation to settle once the answer's real usage is known. */
export interface BudgetReservation {
  userId: number;
  claim: BudgetClaim;
  /** The counters charged, and the amount each got (integer units). */
  charged: { key: string; amount: number; unit: 'tokens' | 'usd' }[];
  /** Each counted limit charged, as left after the reservation. */
  quotas: BudgetQuota[];
}

/** One limit as `GET /v1/users/me/limits` shows it. */
export interface LimitState {
  name: CountedLimit;
  window: Window;
  /** Null: unlimited. */
  limit: number | null;
  /** Where the limit in force was set; null: unlimited. */
  set_by: LimitLevel | null;
  used: number;
  /** Null: unlimited. */
  remaining: number | null;
  resets_at: string;
}

/** One counter a reservation charges: a counted limit of the user or of the application. */
interface CounterPlan {
  name: CountedLimit;
  owner: 'user' | 'application';
  limit: number;
  setBy: LimitLevel;
}

/**
 * Token and cost budgets per tier (`rate_limits.tiers.*` in the configuration), tightened by overrides on a user
 * and on an application, enforced before a provider is called: the worst case of a call is reserved atomically
 * against every limit that applies, and settled to the real usage after the answer. A user's limit (the tighter of
 * its tier's and its own override) counts everything the user spends; an application's override counts what its API
 * keys spend together, which also counts in the user's. Counters live in Redis with `REDIS_URL` (shared by every
 * instance, atomic scripts), else in this process (correct for a single instance only). The usage ledger in
 * PostgreSQL is the source of truth: a missing counter (a new window, a Redis that lost its data, limits that
 * changed) is rebuilt from it. Windows are UTC.
 */
@Injectable()
export class BudgetsService {
  private readonly counters: BudgetCounters;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly usage: UsageRepository,
    redis: RedisConnection,
    invalidations: AuthInvalidationBus,
  ) {
    this.counters = redis.client
      ? new RedisBudgetCounters(redis.client, config.budgets.redis_key_prefix)
      : new MemoryBudgetCounters();
    invalidations.onInvalidation((event) => void this.dropCounters(event).catch(() => undefined));
  }

  /** The subject of a call made by `user` (its overrides as authentication loaded them). */
  subjectOf(user: Pick<AuthenticatedUser, 'id' | 'tier' | 'applicationId' | 'limits'>): BudgetSubject {
    return {
      userId: user.id,
      tier: user.tier,
      applicationId: user.applicationId,
      userLimits: user.limits?.user ?? null,
      applicationLimits: user.applicationId !== null ? (user.limits?.application ?? null) : null,
    };
  }

  /** The tier's limits (the free tier's for an unknown tier). */
  tierLimits(tier: string): BudgetLimits {
    const tiers = this.config.rateLimits.tiers;
    return tiers[tier] ?? tiers.free;
  }

  /** The limits in force for `subject`: each the tightest of its tier's, its user's and its application's. */
  effective(subject: BudgetSubject): EffectiveLimits {
    const levels = this.levels(subject).map((l) => l.limits);
    const counted = Object.fromEntries(COUNTED.map((name) => [name, tightest(levels.map((l) => l[name]))])) as Record<CountedLimit, number | null>;
    return {
      counted,
      allowedModels: levels.map((l) => l.allowed_models).filter((list): list is string[] => Array.isArray(list)),
      maxOutputTokens: tightest(levels.map((l) => l.max_output_tokens)),
    };
  }

  /** @returns whether every `allowed_models` list of `subject` lets it use `model` */
  allows(subject: BudgetSubject, model: Pick<RegisteredModel, 'id' | 'aliases'>): boolean {
    return this.levels(subject).every((l) => allowsModel(l.limits, model));
  }

  /**
   * Refuses a model outside the subject's `allowed_models` (any of tier, user, application).
   * @throws BudgetError `budget.model_not_allowed`
   */
  checkModel(subject: BudgetSubject, model: RegisteredModel): void {
    const refusing = this.levels(subject).find((l) => !allowsModel(l.limits, model));
    if (!refusing) return;
    const whose = { tier: 'your tier', user: 'your account', application: 'this application' }[refusing.level];
    throw new BudgetError(
      'budget.model_not_allowed',
      `The model ${model.id} is not allowed for ${whose} (allowed_models: ${refusing.limits.allowed_models!.join(', ')}).`,
      { limit: 'allowed_models', model: model.id, set_by: refusing.level },
    );
  }

  /**
   * Reserves `claim` against every counted limit of the subject at once (the user's, and its application's): all
   * or nothing, across instances.
   * @throws BudgetError `budget.tokens_per_minute` or `budget.exceeded` naming the limit, window, level and reset
   */
  async reserve(subject: BudgetSubject, claim: BudgetClaim, now = new Date()): Promise<BudgetReservation> {
    const plans = this.counterPlans(subject);
    const charges = plans.map((p) => this.charge(subject, p, claim, now));
    const outcome = await this.counters.reserve(charges);
    if (!outcome.ok) {
      const { name, limit, setBy } = plans[outcome.refused];
      const resetsAt = windowEnd(WINDOW_OF[name], now);
      const retryAfter = Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000));
      const shown = (units: number) => (isCost(name) ? units / USD_UNITS : units);
      const whose = { tier: '', user: ' set on your account', application: ' of this application' }[setBy];
      throw new BudgetError(
        name === 'tokens_per_minute' ? 'budget.tokens_per_minute' : 'budget.exceeded',
        `This send could need ${shown(charges[outcome.refused].amount)} ${isCost(name) ? 'USD' : 'tokens'}, beyond what is left of ${name}${whose} ` +
          `(${limit} per ${WINDOW_OF[name]}, ${shown(outcome.current)} used); it resets at ${resetsAt.toISOString()}.`,
        { limit: name, window: WINDOW_OF[name], set_by: setBy, limit_value: limit, used: shown(outcome.current), resets_at: resetsAt.toISOString() },
        retryAfter,
        [quotaOf(plans[outcome.refused], charges[outcome.refused].limit, outcome.current, now)],
      );
    }
    return {
      userId: subject.userId,
      claim,
      charged: charges.map((c, i) => ({ key: c.key, amount: c.amount, unit: isCost(plans[i].name) ? 'usd' : 'tokens' })),
      quotas: plans.map((p, i) => quotaOf(p, charges[i].limit, outcome.values[i], now)),
    };
  }

  /**
   * Reserves a model call made besides an answer (a session's title or summary, a prompt preview) under the budgets
   * of the user it is made for: its input as counted plus `maxOutputTokens`, at `model`'s prices. Settle it with
   * {@link settleCall} once the call is over, whatever its outcome.
   * @throws BudgetError when it does not fit (the call must not be made)
   */
  reserveCall(
    user: Pick<AuthenticatedUser, 'id' | 'tier' | 'applicationId' | 'limits'>,
    model: RegisteredModel,
    inputTokens: number,
    maxOutputTokens: number,
  ): Promise<BudgetReservation> {
    const output = Math.min(maxOutputTokens, model.maxOutputTokens);
    return this.reserve(this.subjectOf(user), {
      tokens: inputTokens + output,
      costUsd: costOf(model, { inputTokens, outputTokens: output }),
    });
  }

  /** Settles a {@link reserveCall} to the call's real usage by the model that answered; none: nothing was spent. */
  settleCall(reservation: BudgetReservation, model: RegisteredModel, usage: ModelUsage | undefined): Promise<void> {
    if (!usage) return this.settle(reservation, NO_CLAIM);
    return this.settle(reservation, { tokens: usage.inputTokens + usage.outputTokens, costUsd: costOf(model, usage) });
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

  /**
   * Each counted limit of the subject with what is used and left in its current window. Without an application:
   * the user's (tier and user overrides). With one: the limit is the tightest of all three, `used` what the
   * application spent, and `remaining` what it may still spend (within the user's budget too).
   */
  async state(subject: BudgetSubject, now = new Date()): Promise<LimitState[]> {
    const userLevels = this.levels({ ...subject, applicationId: null });
    const appLimits = subject.applicationId !== null ? (subject.applicationLimits ?? {}) : null;
    const userPlans = COUNTED.map((name) => this.userPlan(name, userLevels));
    const appPlans = COUNTED.map((name) => (appLimits ? { name, owner: 'application' as const, limit: appLimits[name] ?? null, setBy: 'application' as const } : null));
    const reads = [
      ...userPlans.map((p, i) => this.charge(subject, { name: COUNTED[i], owner: 'user', limit: p?.limit ?? 0 }, NO_CLAIM, now)),
      ...(appLimits ? COUNTED.map((name) => this.charge(subject, { name, owner: 'application', limit: 0 }, NO_CLAIM, now)) : []),
    ];
    const used = await this.counters.read(reads);
    return COUNTED.map((name, i) => {
      const show = (units: number) => (isCost(name) ? units / USD_UNITS : units);
      const userPlan = userPlans[i];
      const appPlan = appPlans[i];
      const userUsed = show(used[i]);
      const appUsed = appPlan ? show(used[COUNTED.length + i]) : undefined;
      const left = [
        userPlan ? userPlan.limit - userUsed : null,
        appPlan?.limit != null ? appPlan.limit - appUsed! : null,
      ].filter((v): v is number => v !== null);
      const limit = tightest([userPlan?.limit, appPlan?.limit]);
      const setBy = limit === null ? null : appPlan?.limit === limit ? 'application' : userPlan!.setBy;
      return {
        name,
        window: WINDOW_OF[name],
        limit,
        set_by: setBy,
        used: appUsed ?? userUsed,
        remaining: left.length ? Math.max(0, isCost(name) ? roundUsd(Math.min(...left)) : Math.min(...left)) : null,
        resets_at: windowEnd(WINDOW_OF[name], now).toISOString(),
      };
    });
  }

  /** The levels whose limits apply to `subject`, from the widest. */
  private levels(subject: BudgetSubject): { level: LimitLevel; limits: BudgetLimits }[] {
    const levels: { level: LimitLevel; limits: BudgetLimits }[] = [{ level: 'tier', limits: this.tierLimits(subject.tier) }];
    if (subject.userLimits) levels.push({ level: 'user', limits: subject.userLimits });
    if (subject.applicationId !== null && subject.applicationLimits) levels.push({ level: 'application', limits: subject.applicationLimits });
    return levels;
  }

  /** The user's counter of `name`: limited by the tighter of tier and user override; null when neither sets it. */
  private userPlan(name: CountedLimit, levels: { level: LimitLevel; limits: BudgetLimits }[]): CounterPlan | null {
    let plan: CounterPlan | null = null;
    for (const { level, limits } of levels) {
      if (level === 'application') continue;
      const value = limits[name];
      if (value != null && (plan === null || value < plan.limit)) plan = { name, owner: 'user', limit: value, setBy: level };
    }
    return plan;
  }

  /** The counters a call of `subject` charges: the user's limited ones, then the application's overrides. */
  private counterPlans(subject: BudgetSubject): CounterPlan[] {
    const levels = this.levels(subject);
    const plans: CounterPlan[] = [];
    for (const name of COUNTED) {
      const user = this.userPlan(name, levels);
      if (user) plans.push(user);
    }
    const app = levels.find((l) => l.level === 'application')?.limits;
    if (app) {
      for (const name of COUNTED) {
        const limit = app[name];
        if (limit != null) plans.push({ name, owner: 'application', limit, setBy: 'application' });
      }
    }
    return plans;
  }

  private counterKey(owner: 'user' | 'application', id: number, name: CountedLimit, now: Date): string {
    return `${owner === 'user' ? 'u' : 'a'}:${id}:${name}:${windowStart(WINDOW_OF[name], now).toISOString()}`;
  }

  private charge(subject: BudgetSubject, plan: Pick<CounterPlan, 'name' | 'owner' | 'limit'>, claim: BudgetClaim, now: Date): CounterCharge {
    const { name, owner } = plan;
    const window = WINDOW_OF[name];
    const day = windowStart(window, now).toISOString().slice(0, 10);
    const cost = isCost(name);
    const applicationId = owner === 'application' ? subject.applicationId! : undefined;
    return {
      key: this.counterKey(owner, applicationId ?? subject.userId, name, now),
      amount: cost ? Math.round(claim.costUsd * USD_UNITS) : claim.tokens,
      limit: cost ? Math.round(plan.limit * USD_UNITS) : plan.limit,
      expiresAt: windowEnd(window, now).getTime(),
      // The ledger is kept per UTC day: it rebuilds the day and month windows; a minute's tokens start afresh.
      seed: async () => {
        if (window === 'minute') return 0;
        const spent = await this.usage.spentSince(subject.userId, day, applicationId);
        return cost ? spent.cost * USD_UNITS : spent.tokens;
      },
    };
  }

  /**
   * Limits of a user or an application changed (or the user's tier): its counters of the current windows are
   * dropped, so their next use rebuilds them from the ledger under the new limits.
   */
  private async dropCounters(event: AuthInvalidation): Promise<void> {
    const now = new Date();
    if (event.kind === 'user') await this.counters.drop(COUNTED.map((name) => this.counterKey('user', event.userId, name, now)));
    if (event.kind === 'application') await this.counters.drop(COUNTED.map((name) => this.counterKey('application', event.applicationId, name, now)));
  }
}

const NO_CLAIM: BudgetClaim = { tokens: 0, costUsd: 0 };
const isCost = (name: CountedLimit) => name === 'daily_cost_usd' || name === 'monthly_cost_usd';
const roundUsd = (usd: number) => Math.round(usd * USD_UNITS) / USD_UNITS;

/** The smallest of the values given (null and undefined: no limit); null when none is given. */
function tightest(values: (number | null | undefined)[]): number | null {
  const set = values.filter((v): v is number => v != null);
  return set.length ? Math.min(...set) : null;
}

/** A charged counter as the RateLimit headers show it: tokens as they are, USD in millionths. */
function quotaOf(plan: CounterPlan, limitUnits: number, valueUnits: number, now: Date): BudgetQuota {
  const window = WINDOW_OF[plan.name];
  const toShown = (units: number) => (isCost(plan.name) ? Math.floor(units / (USD_UNITS / 1e6)) : units);
  const start = windowStart(window, now).getTime();
  const end = windowEnd(window, now).getTime();
  return {
    name: plan.owner === 'application' ? `application_${plan.name}` : plan.name,
    limit: plan.name,
    level: plan.setBy,
    quota: toShown(limitUnits),
    remaining: Math.max(0, toShown(limitUnits - valueUnits)),
    unit: isCost(plan.name) ? 'usd-micros' : 'tokens',
    windowSeconds: Math.round((end - start) / 1000),
    resetSeconds: Math.max(0, Math.ceil((end - now.getTime()) / 1000)),
  };
}

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
