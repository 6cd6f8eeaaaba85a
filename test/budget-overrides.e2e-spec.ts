import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { modelIn, writeTestConfig } from './support/test-config';
import { bearer, registerUser, TestUser } from './support/users';

const KEY = 'sk-overrides';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
/** This file's own counter keys, so parallel runs sharing the Redis server never meet. */
const PREFIX = `budget-overrides-test:${process.pid}:${Date.now()}:`;
const ADMIN = { ADMIN_EMAIL: 'limits-admin@example.com', ADMIN_PASSWORD: 'limits-admin-password' };
const TIER_DAILY_TOKENS = 10_000;

interface LimitState {
  name: string;
  limit: number | null;
  set_by: string | null;
  used: number;
  remaining: number | null;
}
const daily = (report: { limits: LimitState[] }) => report.limits.find((l) => l.name === 'daily_tokens')!;

/**
 * Budget overrides on users (admin) and applications (owner or admin): the effective limit is the tightest of tier,
 * user and application; an application's API keys share its budget, within the user's. Also `max_output_tokens`
 * and `allowed_models` from overrides: a larger `max_tokens` is refused, none is capped, and a fallback outside
 * the allowed models is never called.
 */
describe('budget overrides: tier, user and application, the tightest wins', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let redis: Redis;
  let admin: { Authorization: string };

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    redis = new Redis(REDIS_URL);
    const config = writeTestConfig((c) => {
      c.rate_limits.tiers.free = { requests: 10000, sends: 10000, daily_tokens: TIER_DAILY_TOKENS };
      // A fallback on another provider: it must never be called for a caller whose allowed models exclude it.
      modelIn(c, 'openai/gpt-4o-mini').fallbacks = ['groq/llama-3.3-70b-versatile'];
      c.retries = { max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 };
      c.budgets = { redis_key_prefix: PREFIX };
    });
    t = await startApp({ CONFIG_FILE: config, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, GROQ_BASE_URL: fake.url, GROQ_API_KEY: KEY, REDIS_URL, ...ADMIN });
    const login = await request(t.url).post('/v1/auth/login').send({ email: ADMIN.ADMIN_EMAIL, password: ADMIN.ADMIN_PASSWORD }).expect(200);
    admin = bearer(login.body.access_token);
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await t?.close();
    await fake.close();
  });

  const send = (auth: { Authorization: string }, extra: object = {}) =>
    request(t.url)
      .post('/v1/chat/stream')
      .set(auth)
      .send({ model: 'offline/echo', messages: [{ role: 'user', content: 'Count me' }], stream: false, ...extra });
  const setUserLimits = (user: TestUser, limits: object | null) =>
    request(t.url).patch(`/v1/users/${user.id}`).set(admin).send({ limits });
  const newApp = async (user: TestUser, limits?: object) => {
    const app = (await request(t.url).post('/v1/applications').set(user.auth).send({ name: 'team' }).expect(201)).body as { id: number };
    if (limits) await request(t.url).patch(`/v1/applications/${app.id}`).set(user.auth).send({ limits }).expect(200);
    return app;
  };
  const newKey = async (user: TestUser, appId: number) =>
    bearer((await request(t.url).post(`/v1/applications/${appId}/keys`).set(user.auth).send({}).expect(201)).body.key);
  const userReport = async (auth: { Authorization: string }) => (await request(t.url).get('/v1/users/me/limits').set(auth).expect(200)).body;
  const appReport = async (auth: { Authorization: string }, appId: number) =>
    (await request(t.url).get(`/v1/applications/${appId}/limits`).set(auth).expect(200)).body;

  it('an admin override on a user tightens the tier, a looser one changes nothing, and null clears it', async () => {
    const ann = await registerUser(t.url);

    const set = await setUserLimits(ann, { daily_tokens: 600, max_output_tokens: 500 });
    expect(set.status).toBe(200);
    expect(set.body.limits).toEqual({ daily_tokens: 600, max_output_tokens: 500 });
    expect(daily(await userReport(ann.auth))).toMatchObject({ limit: 600, set_by: 'user' });
    // What the admin sees of the user is the same report.
    expect(daily((await request(t.url).get(`/v1/users/${ann.id}/limits`).set(admin).expect(200)).body)).toMatchObject({ limit: 600 });

    await setUserLimits(ann, { daily_tokens: TIER_DAILY_TOKENS * 2 }).expect(200);
    const looser = await userReport(ann.auth);
    expect(daily(looser)).toMatchObject({ limit: TIER_DAILY_TOKENS, set_by: 'tier' });
    expect(looser.user_overrides).toEqual({ daily_tokens: TIER_DAILY_TOKENS * 2, max_output_tokens: 500 });

    // A key sent as null removes that override only; `limits: null` removes them all.
    expect((await setUserLimits(ann, { max_output_tokens: null })).body.limits).toEqual({ daily_tokens: TIER_DAILY_TOKENS * 2 });
    expect((await setUserLimits(ann, null)).body.limits).toBeNull();
    expect((await userReport(ann.auth)).user_overrides).toBeNull();
  });

  it('refuses bad overrides with 422, a non-admin with 403, and another user’s application with 404', async () => {
    const ben = await registerUser(t.url);
    const other = await registerUser(t.url);

    for (const limits of [{ daily_tokens: -1 }, { daily_cost_usd: 'ten' }, { weekly_tokens: 5 }, { allowed_models: 'openai/*' }, 'lots']) {
      const res = await setUserLimits(ben, limits as object);
      expect({ limits, status: res.status }).toEqual({ limits, status: 422 });
    }
    await request(t.url).patch(`/v1/users/${ben.id}`).set(ben.auth).send({ limits: { daily_tokens: 1 } }).expect(403);
    const app = await newApp(ben);
    await request(t.url).patch(`/v1/applications/${app.id}`).set(other.auth).send({ limits: { daily_tokens: 1 } }).expect(404);
    await request(t.url).get(`/v1/applications/${app.id}/limits`).set(other.auth).expect(404);
    // An admin may set an application's limits, whoever owns it.
    await request(t.url).patch(`/v1/applications/${app.id}`).set(admin).send({ limits: { daily_tokens: 1000 } }).expect(200);
    expect(daily(await appReport(ben.auth, app.id))).toMatchObject({ limit: 1000, set_by: 'application' });
  });

  it('precedence when sending: the application limits its keys, the user its keys and its own token', async () => {
    const cat = await registerUser(t.url);
    await setUserLimits(cat, { daily_tokens: 600 }).expect(200);
    const tight = await newApp(cat, { daily_tokens: 300 });
    const loose = await newApp(cat, { daily_tokens: 5000 });
    const tightKey = await newKey(cat, tight.id);
    const looseKey = await newKey(cat, loose.id);

    // Worst case ≈ 400 output tokens + the input: beyond the tight application's 300, within the user's 600.
    const byTightKey = await send(tightKey, { max_tokens: 400 });
    expect(byTightKey.status).toBe(429);
    expect(byTightKey.body).toMatchObject({ limit: 'daily_tokens', set_by: 'application', limit_value: 300 });
    expect((await send(cat.auth, { max_tokens: 400 })).status).toBe(200);

    // The loose application's 5000 does not lift the user's 600 (the send above already used some of it).
    const byLooseKey = await send(looseKey, { max_tokens: 590 });
    expect(byLooseKey.status).toBe(429);
    expect(byLooseKey.body).toMatchObject({ limit: 'daily_tokens', set_by: 'user', limit_value: 600 });

    const report = await appReport(cat.auth, tight.id);
    expect(report.application_id).toBe(tight.id);
    expect(report.application_overrides).toEqual({ daily_tokens: 300 });
    expect(daily(report)).toMatchObject({ limit: 300, set_by: 'application', used: 0 });
    const looseDaily = daily(await appReport(cat.auth, loose.id));
    expect(looseDaily).toMatchObject({ limit: 600, set_by: 'user', used: 0 });
    // Within the user's budget: the loose application may spend what the user has left, not its own 5000.
    const userDaily = daily(await userReport(cat.auth));
    expect(looseDaily.remaining).toBe(userDaily.remaining);
  });

  it('an application’s API keys share its budget, recorded per application in the ledger', async () => {
    const dan = await registerUser(t.url);
    const app = await newApp(dan, { daily_tokens: 800 });
    const [first, second] = [await newKey(dan, app.id), await newKey(dan, app.id)];
    const elsewhere = await newApp(dan);

    for (let i = 0; i < 3; i++) expect((await send(first, { max_tokens: 50 })).status).toBe(200);

    const shared = daily(await appReport(first, app.id));
    expect(shared.used).toBeGreaterThan(0);
    // The other key sees the same counter (an API key may read its own application's limits).
    expect(daily(await appReport(second, app.id))).toMatchObject({ used: shared.used, remaining: shared.remaining });
    await request(t.url).get(`/v1/applications/${elsewhere.id}/limits`).set(second).expect(404);
    expect(daily(await appReport(dan.auth, elsewhere.id)).used).toBe(0);

    // What the first key spent leaves the second too little for a send the full budget would have taken.
    const tooMuch = await send(second, { max_tokens: shared.remaining! });
    expect(tooMuch.status).toBe(429);
    expect(tooMuch.body).toMatchObject({ limit: 'daily_tokens', set_by: 'application' });
    const fits = await send(second, { max_tokens: shared.remaining! - 100 });
    expect(fits.status).toBe(200);
    // The answer advertises the budgets it counted against (IETF RateLimit fields), the application's nearly spent
    // daily tokens first: the tightest.
    expect(fits.headers['ratelimit-policy']).toContain('"application_daily_tokens";q=800;qu="tokens";w=86400');
    expect(fits.headers['ratelimit-policy']).toContain(`"daily_tokens";q=${TIER_DAILY_TOKENS};qu="tokens";w=86400`);
    expect(fits.headers['ratelimit']).toMatch(/^"application_daily_tokens";r=\d+;t=\d+, /);
    const appLeft = Number(/^"application_daily_tokens";r=(\d+)/.exec(fits.headers['ratelimit'])![1]);
    expect(appLeft).toBeLessThan(100);

    const rows = await t.app
      .get(DataSource)
      .query(`SELECT application_id, SUM(requests)::int AS requests FROM usage_daily WHERE user_id = $1 GROUP BY application_id`, [dan.id]);
    expect(rows).toEqual([{ application_id: app.id, requests: 4 }]);
  });

  it('max_output_tokens: a larger max_tokens is a 422 naming it; without one, the output asked upstream is capped', async () => {
    const eve = await registerUser(t.url);
    await setUserLimits(eve, { max_output_tokens: 64 }).expect(200);

    const refused = await send(eve.auth, { model: 'gpt-4o-mini', max_tokens: 100 });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([expect.objectContaining({ field: 'max_tokens', message: expect.stringContaining('64') })]);
    expect(fake.requests).toHaveLength(0);

    expect((await send(eve.auth, { model: 'gpt-4o-mini' })).status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].body.max_completion_tokens).toBe(64);
    expect((await userReport(eve.auth)).max_output_tokens).toBe(64);
  });

  it('a fallback outside the caller’s allowed models is never called', async () => {
    const fay = await registerUser(t.url);
    const gus = await registerUser(t.url);
    await setUserLimits(fay, { allowed_models: ['openai/*'] }).expect(200);
    fake.script({ failure: { status: 500 } });

    const res = await send(fay.auth, { model: 'gpt-4o-mini', max_tokens: 50 });
    expect(res.status).toBe(502);
    expect(fake.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini']);

    // Without the override the same chain falls back to the other provider.
    fake.reset();
    fake.script((_req, i) => (i === 0 ? { failure: { status: 500 } } : {}));
    expect((await send(gus.auth, { model: 'gpt-4o-mini', max_tokens: 50 })).status).toBe(200);
    expect(fake.requests.map((r) => r.body.model)).toEqual(['gpt-4o-mini', 'llama-3.3-70b-versatile']);

    // And the listing says which models the overridden caller may use.
    const models = (await request(t.url).get('/v1/models').set(fay.auth).expect(200)).body.data as { id: string; allowed: boolean }[];
    expect(models.find((m) => m.id === 'groq/llama-3.3-70b-versatile')?.allowed).toBe(false);
    expect(models.find((m) => m.id === 'openai/gpt-4o-mini')?.allowed).toBe(true);
  });
});
