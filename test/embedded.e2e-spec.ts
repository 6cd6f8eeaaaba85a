import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { parseSse, textOf } from './support/sse';
import { registerUser, TestUser } from './support/users';

/**
 * The zero-setup default: no DATABASE_URL, so the app serves an embedded PostgreSQL (PGlite) under DATA_DIR.
 * The newcomer's journey works on it, and what it stored is still there after a restart on the same DATA_DIR.
 */
describe('embedded PostgreSQL (no DATABASE_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-backend-embedded-'));
  let t: TestApp | undefined;
  let alice: TestUser;
  let sessionId: number;
  let reply: string;

  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reports the database up, then registers, creates a session, streams a reply and shows both messages', async () => {
    t = await startApp({ EMBEDDED: '1', DATA_DIR: dataDir });

    const ready = await request(t.url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { database: 'up' } });

    alice = await registerUser(t.url);
    const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ title: 'Embedded journey' });
    expect(created.status).toBe(201);
    sessionId = created.body.id;

    const streamed = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ session_id: sessionId, messages: [{ role: 'user', content: 'Hello from the embedded database' }] });
    expect(streamed.status).toBe(200);
    expect(Number(streamed.headers['x-session-id'])).toBe(sessionId);
    const events = parseSse(streamed.text);
    expect(events[events.length - 1].data).toBe('[DONE]');
    reply = textOf(events);
    expect(reply).toContain('Hello from the embedded database');

    const history = await request(t.url).get('/v1/chat/history').set(alice.auth);
    expect(history.status).toBe(200);
    expect(history.body.total).toBe(1);
    expect(history.body.sessions[0]).toMatchObject({
      id: sessionId,
      user_id: alice.id,
      title: 'Embedded journey',
      messages: [
        { role: 'user', content: 'Hello from the embedded database' },
        { role: 'assistant', content: reply },
      ],
    });
  });

  it('keeps users, sessions and messages across a restart on the same DATA_DIR', async () => {
    expect(t).toBeDefined();
    await t!.close();
    t = undefined;
    t = await startApp({ EMBEDDED: '1', DATA_DIR: dataDir });

    const login = await request(t.url).post('/v1/auth/login').send({ email: alice.email, password: 'correct horse battery' });
    expect(login.status).toBe(200);
    const auth = { Authorization: `Bearer ${login.body.access_token}` };

    const sessions = await request(t.url).get('/v1/chat/sessions').set(auth);
    expect(sessions.status).toBe(200);
    expect(sessions.body.total).toBe(1);
    expect(sessions.body.items[0]).toMatchObject({ id: sessionId, title: 'Embedded journey', message_count: 2 });

    const messages = await request(t.url).get(`/v1/chat/sessions/${sessionId}/messages`).set(auth);
    expect(messages.status).toBe(200);
    expect(messages.body.items.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'Hello from the embedded database'],
      ['assistant', reply],
    ]);
  });
});
