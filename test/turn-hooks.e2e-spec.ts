import { HttpStatus } from '@nestjs/common';
import request from 'supertest';
import { ProblemException } from '../src/common/problem';
import { SettledTurn, TURN_HOOKS, TurnHook, TurnPlan } from '../src/messages/chat-turn.service';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse } from './support/sse';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-hooks-test';

describe('turn engine hooks: before the provider is called, after the answer is settled', () => {
  let t: TestApp;
  let fake: FakeOpenAi;
  let refuseNext = false;
  const planned: TurnPlan[] = [];
  const settled: SettledTurn[] = [];
  const hook: TurnHook = {
    async beforeProvider(plan) {
      planned.push(plan);
      if (refuseNext) throw new ProblemException(HttpStatus.PAYMENT_REQUIRED, 'The budget for this month is spent.');
    },
    async afterSettled(turn) {
      settled.push(turn);
    },
  };

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    t = await startApp({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY }, (builder) =>
      builder.overrideProvider(TURN_HOOKS).useValue([hook]),
    );
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  let user: TestUser;
  beforeEach(async () => {
    user = await registerUser(t.url);
    refuseNext = false;
    planned.length = 0;
    settled.length = 0;
    fake.reset();
  });

  it('a hook refusing the send answers its status before any SSE byte, writes no row and calls no provider', async () => {
    refuseNext = true;
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(402);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toBe('The budget for this month is spent.');
    expect(planned).toHaveLength(1);
    expect(planned[0].route.model.id).toBe('openai/gpt-4o-mini');
    expect(fake.requests).toHaveLength(0);
    const sessions = await request(t.url).get('/v1/chat/sessions').set(user.auth);
    expect(sessions.body.total).toBe(0);
    expect(settled).toHaveLength(0);
  });

  it('the settled hook sees the stored answer with its usage', async () => {
    fake.script({ pieces: ['Hello', ' there'], usage: { prompt_tokens: 12, completion_tokens: 2 } });
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'openai/gpt-4o-mini', stream_format: 'events', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    const done = JSON.parse(parseSse(res.text).find((e) => e.event === 'done')!.data);
    expect(settled).toHaveLength(1);
    expect(settled[0]).toMatchObject({
      sessionId: Number(res.headers['x-session-id']),
      messageId: done.message_id,
      outcome: { status: 'complete', content: 'Hello there', tokensInput: 12, tokensOutput: 2 },
    });
  });
});
