import type Redis from 'ioredis';

/** One counter a reservation must fit: its key, what to add, its limit, and when the counter may be dropped. */
export interface CounterCharge {
  key: string;
  /** Integer units (tokens, or USD × 1e8) to add. */
  amount: number;
  /** The most the counter may hold after the addition. */
  limit: number;
  /** Epoch ms when the counter's window ends (it expires then). */
  expiresAt: number;
  /** The counter's value when it is missing (a new window, or a counter store that lost it): from the ledger. */
  seed: () => Promise<number>;
}

/**
 * Outcome of {@link BudgetCounters.reserve}: `values` are the counters after the additions (in the charges'
 * order); `refused` is the index of the first charge that would not fit.
 */
export type ReserveOutcome = { ok: true; values: number[] } | { ok: false; refused: number; current: number };

/**
 * Counters of spent budget, checked and added to all at once: either every charge fits its limit and all are
 * added, or none is. Amounts are integers so that repeated additions never drift.
 */
export interface BudgetCounters {
  reserve(charges: CounterCharge[]): Promise<ReserveOutcome>;
  /** Adds `delta` (negative: gives back) to each counter that still exists; a missing one is rebuilt from the ledger. */
  adjust(adjustments: { key: string; delta: number }[]): Promise<void>;
  /** Current values (missing counters are seeded first). */
  read(charges: Pick<CounterCharge, 'key' | 'expiresAt' | 'seed'>[]): Promise<number[]>;
  /** Drops counters (they are rebuilt from the ledger on their next use), e.g. after their limits changed. */
  drop(keys: string[]): Promise<void>;
}

/**
 * KEYS: the counters. ARGV: amounts, then limits. Returns {1, values…} when all fit and were added, {0, i, current} when the
 * i-th (1-based) would pass its limit, {-1, i} when the i-th is missing (the caller seeds it and tries again).
 * One script, so the check and the additions are atomic across every instance sharing the Redis server.
 */
const RESERVE_SCRIPT = `
local n = #KEYS
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if not v then return {-1, i} end
  if tonumber(v) + tonumber(ARGV[i]) > tonumber(ARGV[n + i]) then return {0, i, v} end
end
local out = {1}
for i = 1, n do out[i + 1] = redis.call('INCRBY', KEYS[i], ARGV[i]) end
return out
`;

/** KEYS: counters; ARGV: deltas. Adds to the counters that exist (a missing one is rebuilt from the ledger later). */
const ADJUST_SCRIPT = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i]) end
end
return 1
`;

/** Counters in Redis, shared by every instance; a lost counter is rebuilt from the ledger on its next use. */
export class RedisBudgetCounters implements BudgetCounters {
  /** The scripts as ioredis commands: sent by SHA1 (`EVALSHA`), the text only when Redis does not know it yet. */
  private readonly scripts: Record<'budgetReserve' | 'budgetAdjust', (numberOfKeys: number, ...args: (string | number)[]) => Promise<unknown>>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('budgetReserve', { lua: RESERVE_SCRIPT });
    redis.defineCommand('budgetAdjust', { lua: ADJUST_SCRIPT });
    this.scripts = redis as unknown as typeof this.scripts;
  }

  async reserve(charges: CounterCharge[]): Promise<ReserveOutcome> {
    if (!charges.length) return { ok: true, values: [] };
    const keys = charges.map((c) => this.prefix + c.key);
    for (let attempt = 0; attempt < 4; attempt++) {
      const result = (await this.scripts.budgetReserve(
        keys.length,
        ...keys,
        ...charges.map((c) => c.amount),
        ...charges.map((c) => c.limit),
      )) as [number, number?, string?];
      if (result[0] === 1) return { ok: true, values: result.slice(1).map(Number) };
      const index = result[1]! - 1;
      if (result[0] === 0) return { ok: false, refused: index, current: Number(result[2]) };
      await this.seed(charges[index], keys[index]);
    }
    throw new Error('budget counters could not be seeded');
  }

  async adjust(adjustments: { key: string; delta: number }[]): Promise<void> {
    const moves = adjustments.filter((a) => a.delta !== 0);
    if (!moves.length) return;
    await this.scripts.budgetAdjust(moves.length, ...moves.map((a) => this.prefix + a.key), ...moves.map((a) => a.delta));
  }

  async read(charges: Pick<CounterCharge, 'key' | 'expiresAt' | 'seed'>[]): Promise<number[]> {
    if (!charges.length) return [];
    const keys = charges.map((c) => this.prefix + c.key);
    const values = await this.redis.mget(...keys);
    return Promise.all(values.map(async (v, i) => (v === null ? this.seed(charges[i], keys[i]) : Number(v))));
  }

  async drop(keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => this.prefix + k));
  }

  /** Sets a missing counter from the ledger; NX, so a concurrent seeder (or a reservation since) is not overwritten. */
  private async seed(charge: Pick<CounterCharge, 'expiresAt' | 'seed'>, key: string): Promise<number> {
    const value = Math.round(await charge.seed());
    await this.redis.set(key, value, 'PXAT', charge.expiresAt, 'NX');
    return Number((await this.redis.get(key)) ?? value);
  }
}

/**
 * Counters in this process's memory, for a server without `REDIS_URL`: correct for ONE instance only (several
 * instances would each allow the whole budget). JavaScript runs the check and the additions without interruption.
 */
export class MemoryBudgetCounters implements BudgetCounters {
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();

  async reserve(charges: CounterCharge[]): Promise<ReserveOutcome> {
    await Promise.all(charges.map((c) => this.ensure(c)));
    // No await from here on: nothing else runs between the check and the additions.
    for (const [i, c] of charges.entries()) {
      const current = this.live(c.key)?.value;
      if (current === undefined) return this.reserve(charges); // expired while seeding: seed again
      if (current + c.amount > c.limit) return { ok: false, refused: i, current };
    }
    return { ok: true, values: charges.map((c) => (this.live(c.key)!.value += c.amount)) };
  }

  async adjust(adjustments: { key: string; delta: number }[]): Promise<void> {
    for (const a of adjustments) {
      const counter = this.live(a.key);
      if (counter) counter.value += a.delta;
    }
    return Promise.resolve();
  }

  async read(charges: Pick<CounterCharge, 'key' | 'expiresAt' | 'seed'>[]): Promise<number[]> {
    await Promise.all(charges.map((c) => this.ensure(c)));
    return charges.map((c) => this.live(c.key)?.value ?? 0);
  }

  async drop(keys: string[]): Promise<void> {
    for (const key of keys) this.counters.delete(key);
    return Promise.resolve();
  }

  private live(key: string) {
    const counter = this.counters.get(key);
    if (counter && counter.expiresAt <= Date.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }

  private async ensure(charge: Pick<CounterCharge, 'key' | 'expiresAt' | 'seed'>): Promise<void> {
    if (this.live(charge.key)) return;
    const value = Math.round(await charge.seed());
    if (!this.live(charge.key)) this.counters.set(charge.key, { value, expiresAt: charge.expiresAt });
    for (const [key, c] of this.counters) if (c.expiresAt <= Date.now()) this.counters.delete(key);
  }
}
