import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { registerUser } from './support/users';

/** Without REDIS_URL: the in-process counters of a single instance. */
describe('budgets: tokens_per_minute (in-process counters)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({
      CONFIG_FILE: writeTestConfig((c) => {
        c.rate_limits.tiers.free = { requests: 10000, sends: 10000, tokens_per_minute: 100 };
      }),
    });
  });
  afterAll(() => t?.close());

  const send = (auth: { Authorization: string }, maxTokens: number) =>
    request(t.url)
      .post('/v1/chat/stream')
      .set(auth)
      .send({ model: 'offline/echo', messages: [{ role: 'user', content: 'Hello' }], max_tokens: maxTokens, stream: false });

  it('refuses a send whose worst case passes the minute’s tokens with 429 tokens-per-minute, Retry-After and the reset', async () => {
    const erin = await registerUser(t.url);

    const refused = await send(erin.auth, 200);

    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ limit: 'tokens_per_minute', window: 'minute', limit_value: 100 });
    expect(refused.body.type).toMatch(/\/tokens-per-minute$/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Date.parse(refused.body.resets_at)).toBeGreaterThan(Date.now());
    const sessions = await request(t.url).get('/v1/chat/sessions').set(erin.auth);
    expect(sessions.body.total).toBe(0);

    expect((await send(erin.auth, 20)).status).toBe(200);
    const limits = await request(t.url).get('/v1/users/me/limits').set(erin.auth);
    const tpm = limits.body.limits.find((l: { name: string }) => l.name === 'tokens_per_minute');
    expect(tpm.limit).toBe(100);
    expect(tpm.used).toBeGreaterThan(0);
    expect(tpm.remaining).toBe(100 - tpm.used);
  });
});
