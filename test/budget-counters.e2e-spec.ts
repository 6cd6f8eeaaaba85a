import Redis from 'ioredis';
import { BudgetCounters, CounterCharge, MemoryBudgetCounters, RedisBudgetCounters } from '../src/budgets/budget-counters';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';

describe.each([
  ['Redis', () => new RedisBudgetCounters(redis, `budget-counters-test:${process.pid}:${Date.now()}:`)],
  ['in-process', () => new MemoryBudgetCounters()],
])('budget counters (%s)', (_name, make: () => BudgetCounters) => {
  let counters: BudgetCounters;
  let n = 0;
  beforeEach(() => (counters = make()));

  const charge = (amount: number, limit: number, seed = 0, key = `k${++n}`): CounterCharge => ({
    key,
    amount,
    limit,
    expiresAt: Date.now() + 60_000,
    seed: () => Promise.resolve(seed),
  });

  it('N concurrent reservations at the edge never pass the limit', async () => {
    const key = `edge${++n}`;
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => counters.reserve([charge(7, 100, 0, key)])));

    expect(outcomes.filter((o) => o.ok)).toHaveLength(14);
    expect(await counters.read([charge(0, 0, 0, key)])).toEqual([98]);
  });

  it('reserves on every counter or none, naming the first that does not fit', async () => {
    const [wide, narrow] = [`wide${++n}`, `narrow${n}`];
    await counters.reserve([charge(5, 100, 0, wide), charge(5, 8, 0, narrow)]);

    const refused = await counters.reserve([charge(5, 100, 0, wide), charge(5, 8, 0, narrow)]);

    expect(refused).toEqual({ ok: false, refused: 1, current: 5 });
    expect(await counters.read([charge(0, 0, 0, wide), charge(0, 0, 0, narrow)])).toEqual([5, 5]);
  });

  it('a missing counter starts from its seed (the ledger), and settling gives back what was not spent', async () => {
    const key = `seeded${++n}`;
    expect(await counters.reserve([charge(30, 100, 60, key)])).toEqual({ ok: true, values: [90] });
    expect(await counters.reserve([charge(30, 100, 60, key)])).toMatchObject({ ok: false, current: 90 });

    await counters.adjust([{ key, delta: -25 }]);

    expect(await counters.read([charge(0, 0, 0, key)])).toEqual([65]);
    expect(await counters.reserve([charge(30, 100, 60, key)])).toEqual({ ok: true, values: [95] });
  });
});

let redis: Redis;
beforeAll(() => (redis = new Redis(REDIS_URL)));
afterAll(async () => {
  const keys = await redis.keys(`budget-counters-test:${process.pid}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});
