import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { registerUser, TestUser } from './support/users';

const expectProblem = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(typeof res.body.detail).toBe('string');
};

/**
 * Bodies and queries built to break the server: deep nesting, offsets beyond any integer, nulls and arrays where
 * objects or numbers belong. Each answers a 4xx that says what is wrong, and the server goes on answering.
 */
describe('hostile input', () => {
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    t = await startApp();
    alice = await registerUser(t.url);
  });
  afterAll(() => t.close());

  describe('JSON nesting depth', () => {
    const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);
    const post = (path: string, body: string, auth = {}) =>
      request(t.url).post(path).set(auth).set('Content-Type', 'application/json').send(body);

    it('refuses a body nested 10,000 levels deep on the public login route with a 400 naming the limit', async () => {
      const res = await post('/v1/auth/login', `{"email":"a@example.com","password":${nested(10_000)}}`);
      expectProblem(res, 400);
      expect(res.body.detail).toMatch(/nested deeper than 64 levels/);
    });

    it('refuses deep objects as well as deep arrays, on authenticated routes too', async () => {
      const deepObject = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
      expectProblem(await post('/v1/chat/sessions', `{"metadata":${deepObject}}`, alice.auth), 400);
      expectProblem(await post('/v1/chat/stream', `{"messages":${nested(10_000)}}`, alice.auth), 400);
    });

    it('counts brackets inside strings as text, and accepts nesting up to the limit', async () => {
      const inString = JSON.stringify({ title: '['.repeat(150), metadata: { a: { b: { c: [[[1]]] } } } });
      const res = await post('/v1/chat/sessions', inString, alice.auth);
      expect(res.status).toBe(201);
      expect(res.body.title).toBe('['.repeat(150));

      // 64 levels in all: the body object, `metadata`, then 62 more.
      const atLimit = `{"metadata":{"x":${nested(62)}}}`;
      expect((await post('/v1/chat/sessions', atLimit, alice.auth)).status).toBe(201);
      expectProblem(await post('/v1/chat/sessions', `{"metadata":{"x":${nested(63)}}}`, alice.auth), 400);
    });

    it('still answers malformed JSON with a 400', async () => {
      const res = await post('/v1/auth/login', '{"email": [[[');
      expectProblem(res, 400);
      expect(res.body.detail).toMatch(/JSON/);
    });
  });

  describe('integer query parameters', () => {
    it.each([
      '/v1/chat/sessions',
      '/v1/chat/history',
      '/api/chat/prompts',
      '/v1/applications',
    ])('refuses page=2^63-1 on %s with a 422 naming page', async (path) => {
      const res = await request(t.url).get(`${path}?page=9223372036854775807`).set(alice.auth);
      expectProblem(res, 422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('page');
    });

    it('accepts the last page whose offset fits, and answers it empty', async () => {
      const res = await request(t.url).get('/v1/chat/sessions?page=21474836&page_size=100').set(alice.auth);
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([]);
      expectProblem(await request(t.url).get('/v1/chat/sessions?page=21474837&page_size=100').set(alice.auth), 422);
    });

    it('refuses integers written as anything but decimal digits', async () => {
      for (const page of ['1e3', '0x10', '1.5', ' 2', 'NaN', 'Infinity', '-1', '']) {
        const res = await request(t.url).get(`/v1/chat/sessions?page=${encodeURIComponent(page)}`).set(alice.auth);
        expect({ page, status: res.status }).toEqual({ page, status: 422 });
      }
    });

    it('bounds the keyset and the context preview integers too', async () => {
      const session = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({}).expect(201);
      const id = session.body.id;
      expectProblem(await request(t.url).get(`/v1/chat/sessions/${id}/messages?after_id=9223372036854775807`).set(alice.auth), 422);
      expectProblem(await request(t.url).get(`/v1/chat/sessions/${id}/context?max_tokens=9223372036854775807`).set(alice.auth), 422);
    });
  });

  describe('null and wrong types in bodies', () => {
    it('treats "content": null on a preview as absent: a 422 asking for prompt_id or content', async () => {
      const res = await request(t.url).post('/api/chat/prompts/preview').set(alice.auth).send({ content: null, dry_run: true });
      expectProblem(res, 422);
      expect(res.body.detail).toMatch(/prompt_id|content/);
    });

    it('refuses "messages": [[[]]] with a 422 naming the message', async () => {
      const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ messages: [[[]]], stream: false });
      expectProblem(res, 422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('messages');
      expect(res.body.detail).toMatch(/each value in messages must be an object/);
    });

    it('treats "session_id": null as absent: the send starts a new session', async () => {
      const res = await request(t.url)
        .post('/v1/chat/stream')
        .set(alice.auth)
        .send({ session_id: null, stream: false, temperature: null, model: null, messages: [{ role: 'user', content: 'hi' }] });
      expect(res.status).toBe(200);
      expect(res.body.session_id).toEqual(expect.any(Number));
    });

    it('keeps null meaningful where it clears a value, and refuses it where clearing is not possible', async () => {
      const created = await request(t.url).post('/v1/chat/sessions').set(alice.auth).send({ system_prompt: 'Be brief.' }).expect(201);
      const cleared = await request(t.url).patch(`/v1/chat/sessions/${created.body.id}`).set(alice.auth).send({ system_prompt: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body.system_prompt).toBeNull();
      expectProblem(await request(t.url).patch(`/v1/chat/sessions/${created.body.id}`).set(alice.auth).send({ metadata: null }), 422);
    });

    it('refuses a lone surrogate in any text (an email included) with a 422 naming the field', async () => {
      const body = '{"email":"\\ud800@example.com","password":"correct horse battery"}';
      const res = await request(t.url).post('/v1/auth/register').set('Content-Type', 'application/json').send(body);
      expectProblem(res, 422);
      expect(res.body.errors).toEqual([{ field: 'email', message: expect.stringMatching(/well-formed Unicode/) }]);
      const patch = await request(t.url).patch('/v1/users/me').set(alice.auth).set('Content-Type', 'application/json').send('{"email":"\\ud800"}');
      expectProblem(patch, 422);
    });

    it('lists at most a bounded number of field errors for a huge invalid array', async () => {
      const messages = Array.from({ length: 100_000 }, () => 1);
      const res = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ messages });
      expectProblem(res, 422);
      expect(res.body.errors.length).toBeLessThanOrEqual(20);
      expect(res.text.length).toBeLessThan(10_000);
    });
  });
});
