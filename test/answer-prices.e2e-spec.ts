import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { modelIn, writeTestConfig } from './support/test-config';
import { bearer } from './support/users';

const KEY = 'sk-prices';
const USAGE = { prompt_tokens: 1000, completion_tokens: 500 };

/** A config whose gpt-4o-mini costs `input`/`output` USD per 1M tokens, priced on `pricedAt`. */
const configPriced = (input: number, output: number, pricedAt: string) =>
  writeTestConfig((c) => {
    modelIn(c, 'openai/gpt-4o-mini').pricing = { input_per_1m: input, output_per_1m: output, cached_input_per_1m: input / 2, priced_at: pricedAt };
  });

/**
 * Each answer keeps the unit prices it was costed with: a price change (a new configuration, a restart) prices the
 * next answers anew and rewrites none of the old ones, nor the usage ledger.
 */
describe('price snapshot: an answer keeps the prices it was costed with', () => {
  let fake: FakeOpenAi;
  let t: TestApp | undefined;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    fake.script({ usage: USAGE });
  });
  afterAll(async () => {
    await t?.close();
    await fake.close();
  });

  const start = (config: string, databaseUrl?: string) =>
    startApp({ CONFIG_FILE: config, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  const answers = async (app: TestApp, auth: { Authorization: string }, sessionId: number) =>
    ((await request(app.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(auth).expect(200)).body.items as { role: string; cost: number; pricing: unknown }[]).filter(
      (m) => m.role === 'assistant',
    );

  it('a restart with new prices costs the next answer at them and leaves the earlier answer and the ledger as they were', async () => {
    t = await start(configPriced(2, 8, '2026-10-01'));
    const databaseUrl = process.env.DATABASE_URL!;
    const reg = await request(t.url).post('/v1/auth/register').send({ email: 'prices@example.com', password: 'correct horse battery' }).expect(201);
    const auth = bearer(reg.body.access_token);
    const first = await request(t.url)
      .post('/v1/chat/stream')
      .set(auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Price me' }], max_tokens: 600, stream: false })
      .expect(200);
    const sessionId = Number(first.headers['x-session-id']);
    const oldCost = (1000 * 2 + 500 * 8) / 1e6;

    await t.close();
    t = await start(configPriced(3, 12, '2026-12-01'), databaseUrl);
    await request(t.url)
      .post('/v1/chat/stream')
      .set(auth)
      .send({ session_id: sessionId, messages: [{ role: 'user', content: 'Price me again' }], max_tokens: 600, stream: false })
      .expect(200);

    const [before, after] = await answers(t, auth, sessionId);
    expect(before).toMatchObject({
      cost: oldCost,
      pricing: { input_per_1m: 2, cached_input_per_1m: 1, output_per_1m: 8, priced_at: '2026-10-01' },
    });
    expect(after).toMatchObject({
      cost: (1000 * 3 + 500 * 12) / 1e6,
      pricing: { input_per_1m: 3, cached_input_per_1m: 1.5, output_per_1m: 12, priced_at: '2026-12-01' },
    });
    // The ledger adds each call at the price it was recorded with: nothing is re-priced.
    const usage = (await request(t.url).get('/v1/users/me/usage').set(auth).expect(200)).body;
    const answersCost = usage.days
      .filter((d: { purpose: string }) => d.purpose === 'answer')
      .reduce((sum: number, d: { cost: number }) => sum + d.cost, 0);
    expect(answersCost).toBeCloseTo(oldCost + (1000 * 3 + 500 * 12) / 1e6, 8);
  });
});
