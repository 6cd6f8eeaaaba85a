import { countTokens } from 'gpt-tokenizer';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse } from './support/sse';
import { modelIn, writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-ledger-test';
const ADMIN = { email: 'ledger-admin@example.com', password: 'admin password 123' };
const DAY_MS = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The test registry with gpt-4o-mini at these prices (USD per 1M tokens). */
const configPriced = (input: number, cached: number, output: number) =>
  writeTestConfig((c) => {
    modelIn(c, 'openai/gpt-4o-mini').pricing = { input_per_1m: input, cached_input_per_1m: cached, output_per_1m: output };
  });

interface StoredMessage {
  role: string;
  tokens_input: number;
  tokens_output: number;
  tokens_cached: number;
  tokens_reasoning: number;
  cost: number;
}

/** Every assistant message of the user, over all its sessions. */
async function assistantMessagesOf(url: string, user: TestUser): Promise<StoredMessage[]> {
  const sessions = (await request(url).get('/v1/chat/sessions?page_size=100').set(user.auth)).body.items as { id: number }[];
  const all: StoredMessage[] = [];
  for (const s of sessions) {
    // Every branch: concurrent sends into one session are siblings, each after the history it was answered with.
    const page = await request(url).get(`/v1/chat/sessions/${s.id}/messages?page_size=100&branch=all`).set(user.auth);
    all.push(...(page.body.items as StoredMessage[]).filter((m) => m.role === 'assistant'));
  }
  return all;
}

const round8 = (n: number) => Math.round(n * 1e8) / 1e8;

describe('usage ledger: per message, per session, per user, per day and model', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let admin: { Authorization: string };
  const usage = { prompt_tokens: 1000, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 400 }, completion_tokens_details: { reasoning_tokens: 200 } };
  // 600 uncached × 0.15 + 400 cached × 0.075 + 300 output × 0.6, per million
  const COST = (600 * 0.15 + 400 * 0.075 + 300 * 0.6) / 1e6;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({
      CONFIG_FILE: configPriced(0.15, 0.075, 0.6),
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: KEY,
      GROQ_BASE_URL: fake.url, // Llama on the same fake: a family counted as o200k × token_estimate_factor
      GROQ_API_KEY: KEY,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    const login = await request(t.url).post('/v1/auth/login').send(ADMIN);
    admin = { Authorization: `Bearer ${login.body.access_token}` };
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const send = (user: TestUser, extra: object = {}) =>
    request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count me' }], stream_format: 'events', ...extra });

  it('a streamed and a JSON answer count alike: cached and reasoning tokens, the cached price, the daily ledger', async () => {
    const bob = await registerUser(t.url);
    fake.script({ usage });
    const streamed = await send(bob);
    const done = JSON.parse(parseSse(streamed.text).find((e) => e.event === 'done')!.data);
    expect(done.cost).toBeCloseTo(COST, 10);
    const shown = { input_tokens: 1000, output_tokens: 300, total_tokens: 1300, cached_tokens: 400, reasoning_tokens: 200, estimated: false };
    expect(done.usage).toEqual(shown);
    const json = await send(bob, { stream: false });
    expect(json.body.cost).toBeCloseTo(COST, 10);
    expect(json.body.usage).toEqual(shown);

    const answers = await assistantMessagesOf(t.url, bob);
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(answer).toMatchObject({ tokens_input: 1000, tokens_output: 300, tokens_cached: 400, tokens_reasoning: 200 });
      expect(answer.cost).toBeCloseTo(COST, 10);
    }

    const today = utcDay(Date.now());
    const report = await request(t.url).get('/v1/users/me/usage').set(bob.auth);
    expect(report.status).toBe(200);
    const expected = { requests: 2, tokens_input: 2000, tokens_output: 600, tokens_cached: 800, tokens_reasoning: 400, cost: round8(2 * COST) };
    expect(report.body).toEqual({
      from: utcDay(Date.now() - 29 * DAY_MS),
      to: today,
      totals: expected,
      days: [{ day: today, model: 'openai/gpt-4o-mini', purpose: 'answer', ...expected }],
    });

    // The ledger outlives the sessions; the admin sees the same report.
    for (const s of (await request(t.url).get('/v1/chat/sessions').set(bob.auth)).body.items) {
      expect((await request(t.url).delete(`/v1/chat/sessions/${s.id}`).set(bob.auth)).status).toBe(200);
    }
    const after = await request(t.url).get(`/v1/users/me/usage?from=${today}&to=${today}`).set(bob.auth);
    expect(after.body.totals).toEqual(expected);
    const asAdmin = await request(t.url).get(`/v1/users/${bob.id}/usage?from=${today}&to=${today}`).set(admin);
    expect(asAdmin.body).toEqual(after.body);
  });

  it('N concurrent sends: the sessions, the user and the ledger all add up to the sum of the messages', async () => {
    const carol = await registerUser(t.url);
    fake.script((req, i) => ({
      pieces: ['a', 'b', 'c'].slice(0, 1 + (i % 3)),
      delayMs: 5,
      usage: { prompt_tokens: 100 + i, completion_tokens: 10 + i, prompt_tokens_details: { cached_tokens: i }, completion_tokens_details: { reasoning_tokens: i % 4 } },
    }));
    const shared = (await request(t.url).post('/v1/chat/sessions').set(carol.auth).send({ model: 'gpt-4o-mini' })).body.id;
    const N = 16;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => send(carol, { stream: i % 2 === 0, ...(i % 4 < 2 && { session_id: shared }) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));

    const answers = await assistantMessagesOf(t.url, carol);
    expect(answers).toHaveLength(N);
    const sum = (f: (m: StoredMessage) => number) => answers.reduce((n, m) => n + f(m), 0);
    const tokensInput = sum((m) => m.tokens_input);
    const tokensOutput = sum((m) => m.tokens_output);
    const cost = round8(sum((m) => m.cost));
    expect(tokensInput).toBe(Array.from({ length: N }, (_, i) => 100 + i).reduce((a, b) => a + b));
    expect(sum((m) => m.tokens_cached)).toBe((N * (N - 1)) / 2);

    const stats = (await request(t.url).get('/v1/users/me/stats').set(carol.auth)).body;
    expect({ in: stats.tokens_input, out: stats.tokens_output }).toEqual({ in: tokensInput, out: tokensOutput });
    expect(stats.cost).toBeCloseTo(cost, 8);

    const sessions = (await request(t.url).get('/v1/chat/sessions?page_size=100').set(carol.auth)).body.items;
    const sessionSum = (k: string) => sessions.reduce((n: number, s: Record<string, number>) => n + s[k], 0);
    expect({ in: sessionSum('tokens_input'), out: sessionSum('tokens_output') }).toEqual({ in: tokensInput, out: tokensOutput });
    expect(sessionSum('cost')).toBeCloseTo(cost, 8);
    expect(sessions.find((s: { id: number }) => s.id === shared).message_count).toBe(N);

    const report = (await request(t.url).get('/v1/users/me/usage').set(carol.auth)).body;
    expect(report.totals).toEqual({
      requests: N,
      tokens_input: tokensInput,
      tokens_output: tokensOutput,
      tokens_cached: sum((m) => m.tokens_cached),
      tokens_reasoning: sum((m) => m.tokens_reasoning),
      cost,
    });
    expect(report.days).toHaveLength(1);
  });

  it('a request the provider refused costs nothing but counts, under the model tried; nothing outside the range', async () => {
    const dave = await registerUser(t.url);
    fake.script({ failure: { status: 400 } });
    const res = await send(dave);
    expect(res.status).toBe(502);
    const [failed] = await assistantMessagesOf(t.url, dave);
    expect(failed).toMatchObject({ status: 'failed', content: '', tokens_input: 0, tokens_output: 0, cost: 0, usage_estimated: false });
    const today = utcDay(Date.now());
    const report = (await request(t.url).get(`/v1/users/me/usage?to=${today}`).set(dave.auth)).body;
    expect(report.days).toEqual([
      { day: today, model: 'openai/gpt-4o-mini', purpose: 'answer', requests: 1, tokens_input: 0, tokens_output: 0, tokens_cached: 0, tokens_reasoning: 0, cost: 0 },
    ]);
    const yesterday = utcDay(Date.now() - DAY_MS);
    const longAgo = utcDay(Date.now() - 300 * DAY_MS);
    const past = (await request(t.url).get(`/v1/users/me/usage?from=${longAgo}&to=${yesterday}`).set(dave.auth)).body;
    expect(past).toEqual({
      from: longAgo,
      to: yesterday,
      totals: { requests: 0, tokens_input: 0, tokens_output: 0, tokens_cached: 0, tokens_reasoning: 0, cost: 0 },
      days: [],
    });
  });

  it('a 500 on every retry costs nothing; a stream cut after pieces is charged the answering model\'s estimate', async () => {
    const erin = await registerUser(t.url);
    fake.script({ failure: { status: 500 } });
    expect((await send(erin, { stream: false })).status).toBe(502);
    expect(fake.requests).toHaveLength(2); // retries.max_attempts: 2

    fake.reset();
    fake.script({ pieces: ['Partial', ' answer', ' lost'], cut: { afterPieces: 2 } });
    const cut = await send(erin, { model: 'llama-3.3-70b' });
    expect(parseSse(cut.text).some((e) => e.event === 'error')).toBe(true);

    const [refused, partial] = await assistantMessagesOf(t.url, erin).then((all) => all.sort((a, b) => a.tokens_input - b.tokens_input));
    expect(refused).toMatchObject({ tokens_input: 0, tokens_output: 0, cost: 0 });
    // Llama's tokenizer isn't shipped: o200k × token_estimate_factor (1.25) per message, 4 tokens of framing each
    // (as the context preview counts), and 3 that prime the reply.
    const estimate = (text: string) => Math.ceil(countTokens(text) * 1.25);
    const sent = fake.requests[0].body.messages as { content: string }[];
    const input = sent.reduce((n, m) => n + estimate(m.content) + 4, 0) + 3;
    const output = estimate('Partial answer');
    expect(partial).toMatchObject({ content: 'Partial answer', tokens_input: input, tokens_output: output, usage_estimated: true });
    expect(partial.cost).toBeCloseTo((input * 0.59 + output * 0.79) / 1e6, 10);

    const days = (await request(t.url).get('/v1/users/me/usage').set(erin.auth)).body.days;
    expect(days).toEqual([
      expect.objectContaining({ model: 'groq/llama-3.3-70b-versatile', requests: 1, tokens_input: input, tokens_output: output }),
      expect.objectContaining({ model: 'openai/gpt-4o-mini', requests: 1, tokens_input: 0, tokens_output: 0, cost: 0 }),
    ]);
  });

  it.each([
    ['from=2026-03-02&to=2026-03-01', 'from'],
    ['from=2020-01-01&to=2026-01-01', 'from'],
    ['from=2026-02-30', 'from'],
    ['to=yesterday', 'to'],
    ['from=2026-1-1', 'from'],
  ])('refuses ?%s with a 422 naming %s', async (query, field) => {
    const erin = await registerUser(t.url);
    const res = await request(t.url).get(`/v1/users/me/usage?${query}`).set(erin.auth);
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it("another user's usage is for admins only, and an unknown user is a 404", async () => {
    const frank = await registerUser(t.url);
    const grace = await registerUser(t.url);
    expect((await request(t.url).get(`/v1/users/${grace.id}/usage`).set(frank.auth)).status).toBe(403);
    expect((await request(t.url).get(`/v1/users/${grace.id}/usage`).set(admin)).status).toBe(200);
    expect((await request(t.url).get('/v1/users/987654/usage').set(admin)).status).toBe(404);
    expect((await request(t.url).get('/v1/users/me/usage')).status).toBe(401);
  });
});

describe('usage ledger: a price change does not rewrite history', () => {
  it('answers keep the price in force when they were stored, after a restart with a new price', async () => {
    const fake = await startFakeOpenAi({ apiKey: KEY });
    const env = { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY };
    // Both instances start (and empty the test database) before any data exists; the second one is the
    // restarted service with the new price list.
    const before = await startApp({ ...env, CONFIG_FILE: configPriced(0.15, 0.075, 0.6) });
    const after = await startApp({ ...env, CONFIG_FILE: configPriced(1.5, 0.75, 6) });
    let beforeOpen = true;
    try {
      fake.script({ usage: { prompt_tokens: 1000, completion_tokens: 100 } });
      const user = await registerUser(before.url);
      const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Price me' }], stream: false };
      const old = await request(before.url).post('/v1/chat/stream').set(user.auth).send(body);
      expect(old.body.cost).toBeCloseTo((1000 * 0.15 + 100 * 0.6) / 1e6, 10);
      await before.close();
      beforeOpen = false;

      const fresh = await request(after.url).post('/v1/chat/stream').set(user.auth).send(body);
      expect(fresh.body.cost).toBeCloseTo((1000 * 1.5 + 100 * 6) / 1e6, 10);

      const stored = await request(after.url).get(`/v1/chat/sessions/${old.body.session_id}/messages`).set(user.auth);
      expect(stored.body.items[1].cost).toBeCloseTo((1000 * 0.15 + 100 * 0.6) / 1e6, 10);
      const report = (await request(after.url).get('/v1/users/me/usage').set(user.auth)).body;
      expect(report.totals.cost).toBeCloseTo((1000 * 0.15 + 100 * 0.6 + 1000 * 1.5 + 100 * 6) / 1e6, 10);
      const stats = (await request(after.url).get('/v1/users/me/stats').set(user.auth)).body;
      expect(stats.cost).toBeCloseTo(report.totals.cost, 10);
    } finally {
      if (beforeOpen) await before.close();
      await after.close();
      await fake.close();
    }
  });
});
