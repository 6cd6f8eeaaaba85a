import Redis from 'ioredis';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { modelIn, writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-budgets';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
/** This run's own counter keys, so parallel runs sharing the Redis server never meet. */
const PREFIX = `budget-test:${process.pid}:${Date.now()}:`;
/** USD per token both ways (1000 per 1M), so costs are easy to reason about. */
const PRICE = 1000;
const DAILY_USD = 0.1;

/** Every assistant message of the user, over all its sessions. */
async function answersOf(url: string, user: TestUser): Promise<{ cost: number }[]> {
  const sessions = (await request(url).get('/v1/chat/sessions?page_size=100').set(user.auth)).body.items as { id: number }[];
  const all: { role: string; cost: number }[] = [];
  for (const s of sessions) {
    const page = await request(url).get(`/v1/chat/sessions/${s.id}/messages?page_size=100`).set(user.auth);
    all.push(...(page.body.items as { role: string; cost: number }[]));
  }
  return all.filter((m) => m.role === 'assistant');
}

describe('budgets: reserved before the provider, shared by two instances through Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let fake: FakeOpenAi;
  let redis: Redis;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    redis = new Redis(REDIS_URL);
    const config = writeTestConfig((c) => {
      modelIn(c, 'openai/gpt-4o-mini').pricing = { input_per_1m: PRICE, output_per_1m: PRICE };
      c.rate_limits.tiers.free = { requests: 10000, sends: 10000, daily_cost_usd: DAILY_USD, allowed_models: ['openai/*', 'offline/*'] };
      c.budgets = { redis_key_prefix: PREFIX };
    });
    const env = { CONFIG_FILE: config, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, GROQ_BASE_URL: fake.url, GROQ_API_KEY: KEY, REDIS_URL };
    // Both started before any row is written: each start empties the worker's database.
    a = await startApp(env);
    b = await startApp(env);
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await a?.close();
    await b?.close();
    await fake.close();
  });

  const send = (url: string, user: TestUser, extra: object = {}) =>
    request(url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count me' }], max_tokens: 10, stream: false, ...extra });

  it('concurrent sends at a daily_cost_usd edge from both instances never overspend; refused ones reach no provider and store nothing', async () => {
    const alice = await registerUser(a.url);
    // Answers slow enough that every send reserves before any settles: the budget must hold by reservation alone.
    fake.script({ delayMs: 100 });

    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => send(i % 2 ? b.url : a.url, alice)));

    const served = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(served.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.type).toMatch(/\/budget-exceeded$/);
      expect(r.body.limit).toBe('daily_cost_usd');
      expect(r.body.window).toBe('day');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      // The refusing limit in the IETF RateLimit fields: its quota in millionths of a dollar, less than one send left.
      expect(r.headers['ratelimit-policy']).toBe(`"daily_cost_usd";q=${Math.round(DAILY_USD * 1e6)};qu="usd-micros";w=86400`);
      const [, left, reset] = /^"daily_cost_usd";r=(\d+);t=(\d+)$/.exec(r.headers.ratelimit) ?? [];
      expect(Number(left)).toBeLessThan(Math.round(DAILY_USD * 1e6));
      expect(Number(reset)).toBe(Number(r.headers['retry-after']));
    }
    expect(fake.requests).toHaveLength(served.length);
    const answers = await answersOf(a.url, alice);
    expect(answers).toHaveLength(served.length);
    const spent = answers.reduce((sum, m) => sum + Number(m.cost), 0);
    expect(spent).toBeLessThanOrEqual(DAILY_USD);

    const limits = await request(b.url).get('/v1/users/me/limits').set(alice.auth);
    expect(limits.status).toBe(200);
    const daily = limits.body.limits.find((l: { name: string }) => l.name === 'daily_cost_usd');
    expect(daily).toMatchObject({ window: 'day', limit: DAILY_USD });
    expect(daily.used).toBeCloseTo(spent, 8);
    expect(daily.remaining).toBeCloseTo(DAILY_USD - spent, 8);
    expect(Date.parse(daily.resets_at)).toBeGreaterThan(Date.now());
  });

  it('counters lost from Redis mid-window are rebuilt from the ledger, and the budget still holds', async () => {
    const bob = await registerUser(a.url);
    for (let i = 0; i < 2; i++) expect((await send(a.url, bob)).status).toBe(200);
    const before = (await answersOf(a.url, bob)).reduce((sum, m) => sum + Number(m.cost), 0);

    const keys = await redis.keys(`${PREFIX}u:${bob.id}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);

    const daily = (await request(b.url).get('/v1/users/me/limits').set(bob.auth)).body.limits.find((l: { name: string }) => l.name === 'daily_cost_usd');
    expect(before).toBeGreaterThan(0);
    expect(daily.used).toBeCloseTo(before, 8);
    fake.script({ delayMs: 100 });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => send(i % 2 ? b.url : a.url, bob)));
    const spent = (await answersOf(a.url, bob)).reduce((sum, m) => sum + Number(m.cost), 0);
    expect(spent).toBeLessThanOrEqual(DAILY_USD);
    expect(results.some((r) => r.status === 429)).toBe(true);
  });

  it('a model outside allowed_models is a 403 naming it, and no provider is called', async () => {
    const carol = await registerUser(a.url);

    const res = await send(a.url, carol, { model: 'llama-3.3-70b' });

    expect(res.status).toBe(403);
    expect(res.body.type).toMatch(/\/model-not-allowed$/);
    expect(res.body.model).toBe('groq/llama-3.3-70b-versatile');
    expect(fake.requests).toHaveLength(0);
    expect(await answersOf(a.url, carol)).toHaveLength(0);
  });

  it('the model listing marks which models the caller may use', async () => {
    const dave = await registerUser(a.url);

    const models = (await request(a.url).get('/v1/models').set(dave.auth).expect(200)).body.data as { id: string; allowed: boolean }[];

    expect(models.find((m) => m.id === 'openai/gpt-4o-mini')?.allowed).toBe(true);
    expect(models.find((m) => m.id === 'offline/echo')?.allowed).toBe(true);
    expect(models.find((m) => m.id === 'groq/llama-3.3-70b-versatile')?.allowed).toBe(false);
  });
});
