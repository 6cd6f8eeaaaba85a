import request from 'supertest';
import { DataSource } from 'typeorm';
import { ProblemDetailsFilter } from '../src/common/problem-details.filter';
import { startApp, TestApp } from './support/app';
import { registerUser, TestUser } from './support/users';

/**
 * U+0000 cannot be stored in PostgreSQL text. Wherever a client sends it — a JSON value, a JSON key, a query
 * parameter — the answer is a 422 naming the field, and nothing is written.
 */
describe('the NUL character (U+0000) in requests', () => {
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
  });
  afterAll(() => t.close());

  const expectNulRefused = (res: request.Response, field: string) => {
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([{ field, message: 'must not contain the NUL character (U+0000)' }]);
  };

  it('refuses it in a JSON value, and stores no prompt', async () => {
    const res = await request(t.url).post('/api/chat/prompts').set(alice.auth).send({ title: 'T', content: 'a\u0000b' });
    expectNulRefused(res, 'content');
    const mine = await request(t.url).get('/api/chat/prompts?include_templates=false').set(alice.auth);
    expect(mine.body.total).toBe(0);
  });

  it('refuses it nested in metadata and in a JSON key', async () => {
    expectNulRefused(
      await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ metadata: { tags: ['ok', 'x\u0000'] } }),
      'metadata.tags.1',
    );
    expectNulRefused(
      await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ metadata: { 'k\u0000': 1 } }),
      'metadata.k\u0000',
    );
    const sessions = await request(t.url).get('/v1/chat/sessions').set(alice.auth);
    expect(sessions.body.total).toBe(0);
  });

  it('refuses it in a query parameter', async () => {
    expectNulRefused(await request(t.url).get('/api/chat/prompts?search=abc%00def').set(alice.auth), 'search');
  });

  it('refuses it in a message sent to the model, before anything is stored', async () => {
    const res = await request(t.url)
      .post('/v1/chat/stream')
      .set(alice.auth)
      .send({ stream: false, messages: [{ role: 'user', content: 'hello\u0000' }] });
    expectNulRefused(res, 'messages.0.content');
    const history = await request(t.url).get('/v1/chat/history').set(alice.auth);
    expect(history.body.total).toBe(0);
  });

  it('answers the database errors a racing or odd request can still cause with a 4xx, never a 500', async () => {
    const db = t.app.get(DataSource);
    const failure = (sql: string) => db.query(sql).then(() => undefined, (err: unknown) => err);
    const filter = new ProblemDetailsFilter();

    // A row referring to one deleted meanwhile (foreign key 23503), and text PostgreSQL cannot store (22021).
    const vanished = await failure("INSERT INTO chat_sessions (user_id, model) VALUES (2147483647, 'offline/echo')");
    const nul = await failure("SELECT convert_from('\\x6100'::bytea, 'UTF8')");
    expect(filter.toProblem(vanished)).toMatchObject({ status: 409 });
    expect(filter.toProblem(nul)).toMatchObject({ status: 422 });
  });
});
