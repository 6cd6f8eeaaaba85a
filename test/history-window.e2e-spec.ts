import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { writeTestConfig } from './support/test-config';
import { registerUser, TestUser } from './support/users';

describe('GET /v1/chat/history shows each session\'s newest messages only (history.messages_per_session)', () => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    t = await startApp({ CONFIG_FILE: writeTestConfig((c) => (c.history = { messages_per_session: 3 })) });
    user = await registerUser(t.url);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function send(content: string, sessionId?: number): Promise<number> {
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(user.auth)
      .send({ model: 'offline/echo', stream: false, session_id: sessionId, messages: [{ role: 'user', content }] });
    expect(res.status).toBe(200);
    return res.body.session_id;
  }

  it('keeps the newest messages, oldest first, with the fields unchanged; the session endpoint still has all', async () => {
    const long = await send('first question');
    await send('second question', long);
    await send('third question', long);
    const short = await send('only question');

    const res = await request(t.url).get('/v1/chat/history').set(user.auth);
    expect(res.status).toBe(200);
    const byId = new Map<number, { messages: { role: string; content: string }[] }>(
      res.body.sessions.map((s: { id: number }) => [s.id, s]),
    );
    const longTurns = byId.get(long)!.messages;
    expect(longTurns).toHaveLength(3);
    expect(longTurns.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant']);
    expect(longTurns[1]).toEqual({ role: 'user', content: 'third question' });
    expect(byId.get(short)!.messages.map((m) => m.role)).toEqual(['user', 'assistant']);

    const all = await request(t.url).get(`/v1/chat/sessions/${long}/messages`).set(user.auth);
    expect(all.body.items).toHaveLength(6);
    expect(all.body.items[5].id).toBeGreaterThan(all.body.items[0].id);
  });
});
