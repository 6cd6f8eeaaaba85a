import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-purposes';

/**
 * Model calls besides answers count in the caller's budgets under their purpose: a session's title (made by a model
 * after the first answer) and a prompt preview reserve before the provider is called and settle after, so the
 * counters match the ledger at once; a preview beyond the budget is refused before any provider is called.
 * In-process counters (no REDIS_URL).
 */
describe('budgets: titles and previews count under their purpose', () => {
  let t: TestApp;
  let fake: FakeOpenAi;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const config = writeTestConfig((c) => {
      c.rate_limits.tiers.free = { requests: 10000, sends: 10000, daily_tokens: 100_000 };
      // Titles by the session's own model: a second model call after the first answer.
      c.context_management = { ...c.context_management, title_model: null };
    });
    t = await startApp({ CONFIG_FILE: config, OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await t?.close();
    await fake.close();
  });

  const dailyUsed = async (user: TestUser) =>
    ((await request(t.url).get('/v1/users/me/limits').set(user.auth).expect(200)).body.limits as { name: string; used: number }[]).find(
      (l) => l.name === 'daily_tokens',
    )!.used;
  const ledger = (user: TestUser) =>
    t.app
      .get(DataSource)
      .query<{ purpose: string; tokens: number }[]>(
        `SELECT purpose, SUM(tokens_input + tokens_output)::int AS tokens FROM usage_daily WHERE user_id = $1 GROUP BY purpose ORDER BY purpose`,
        [user.id],
      );

  it('a session title made by a model counts in the budget at once, under the purpose title', async () => {
    const ida = await registerUser(t.url);
    fake.script({ pieces: ['A title'], usage: { prompt_tokens: 40, completion_tokens: 5 } });

    const sent = await request(t.url)
      .post('/v1/chat/stream')
      .set(ida.auth)
      .send({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name this chat' }], max_tokens: 50, stream: false })
      .expect(200);
    const sessionId = sent.body.session_id as number;
    for (let i = 0; i < 100; i++) {
      const title = (await request(t.url).get(`/v1/chat/sessions/${sessionId}`).set(ida.auth)).body.title as string | null;
      if (title && (await ledger(ida)).length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const rows = await ledger(ida);
    expect(rows).toEqual([
      { purpose: 'answer', tokens: 45 },
      { purpose: 'title', tokens: 45 },
    ]);
    expect(fake.requests).toHaveLength(2);
    expect(await dailyUsed(ida)).toBe(90);
  });

  it('a preview reserves and counts like a send; beyond the budget it is refused before any provider is called', async () => {
    const jon = await registerUser(t.url);
    fake.script({ pieces: ['Preview'], usage: { prompt_tokens: 30, completion_tokens: 10 } });

    await request(t.url).post('/api/chat/prompts/preview').set(jon.auth).send({ content: 'Say hi', model: 'gpt-4o-mini' }).expect(200);
    expect(await ledger(jon)).toEqual([{ purpose: 'preview', tokens: 40 }]);
    expect(await dailyUsed(jon)).toBe(40);

    // The preview asks for up to prompts.preview_max_tokens (64 here): more than a budget of 80 tokens a day leaves.
    const admin = await adminAuth();
    await request(t.url).patch(`/v1/users/${jon.id}`).set(admin).send({ limits: { daily_tokens: 80 } }).expect(200);
    fake.reset();
    const refused = await request(t.url).post('/api/chat/prompts/preview').set(jon.auth).send({ content: 'Say hi', model: 'gpt-4o-mini' });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ limit: 'daily_tokens', set_by: 'user' });
    expect(fake.requests).toHaveLength(0);
  });

  /** A fresh admin: promoted in the database (this app has no ADMIN_EMAIL), then logged in. */
  async function adminAuth(): Promise<{ Authorization: string }> {
    const admin = await registerUser(t.url);
    await t.app.get(DataSource).query(`UPDATE users SET role = 'admin' WHERE id = $1`, [admin.id]);
    const login = await request(t.url).post('/v1/auth/login').send({ email: admin.email, password: 'correct horse battery' }).expect(200);
    return { Authorization: `Bearer ${login.body.access_token}` };
  }
});
