import request from 'supertest';
import { DataSource } from 'typeorm';
import { startApp, TEST_ENV, TestApp } from './support/app';
import { registerUser, TestUser } from './support/users';

/**
 * Ownership and mass assignment on the chat routes: another user's session is a 404 indistinguishable from a missing
 * one and is left untouched; unknown fields are 422 and change nothing; error answers leak nothing.
 */
describe('Chat ownership and mass assignment (e2e)', () => {
  let t: TestApp;
  let a: TestUser;
  let b: TestUser;
  let admin: { Authorization: string };
  /** A's active session (with two exchanges) and A's archived session (with one). */
  let active: number;
  let archived: number;
  /** An id no session has (inside the integer range, so it reaches the database). */
  const MISSING = 2_147_483_000;

  const stream = (u: TestUser, body: object) => request(t.url).post('/v1/chat/stream').set(u.auth).send(body);

  /** Everything of A's that a foreign call could change, read through the API and the database. */
  async function snapshotOfA() {
    const read = async (path: string) => (await request(t.url).get(path).set(a.auth).expect(200)).body;
    const db = t.app.get(DataSource);
    const [active_, archived_, activeMessages, archivedMessages, list, archivedList, history, me, rows] = await Promise.all([
      read(`/v1/chat/sessions/${active}`),
      read(`/v1/chat/sessions/${archived}`),
      read(`/v1/chat/sessions/${active}/messages`),
      read(`/v1/chat/sessions/${archived}/messages`),
      read('/v1/chat/sessions'),
      read('/v1/chat/sessions?archived=true'),
      read('/v1/chat/history'),
      read('/v1/users/me'),
      db.query(
        'SELECT s.id, s.user_id, s.model, s.title, s.system_prompt, s.metadata, s.message_count, s.tokens_input, s.tokens_output, ' +
          's.cost, s.updated_at, s.archived_at, (SELECT json_agg(m ORDER BY m.id) FROM messages m WHERE m.session_id = s.id) AS messages ' +
          'FROM chat_sessions s WHERE s.user_id = $1 ORDER BY s.id',
        [a.id],
      ),
    ]);
    return { active: active_, archived: archived_, activeMessages, archivedMessages, list, archivedList, history, me, rows };
  }

  beforeAll(async () => {
    t = await startApp({ ADMIN_EMAIL: 'sec-admin@example.com', ADMIN_PASSWORD: 'sec-admin-password' });
    const login = await request(t.url).post('/v1/auth/login').send({ email: 'sec-admin@example.com', password: 'sec-admin-password' }).expect(200);
    admin = { Authorization: `Bearer ${login.body.access_token}` };
    a = await registerUser(t.url);
    b = await registerUser(t.url);
    const first = await stream(a, {
      stream: false,
      model: 'gpt-4',
      messages: [
        { role: 'system', content: 'A secret system prompt of A.' },
        { role: 'user', content: 'private question of A' },
      ],
    }).expect(200);
    active = first.body.session_id;
    await stream(a, { stream: false, session_id: active, messages: [{ role: 'user', content: 'second private turn' }] }).expect(200);
    const second = await stream(a, { stream: false, messages: [{ role: 'user', content: 'to be archived' }] }).expect(200);
    archived = second.body.session_id;
    await request(t.url).delete(`/v1/chat/sessions/${archived}?soft=true`).set(a.auth).expect(200);
  });
  afterAll(() => t.close());

  describe("B calling A's ids gets the same 404 as for a missing id, and nothing of A's changes", () => {
    type Call = (id: number) => request.Test;
    const calls: [string, Call][] = [
      ['GET /v1/chat/sessions/{id}', (id) => request(t.url).get(`/v1/chat/sessions/${id}`).set(b.auth)],
      ['PATCH /v1/chat/sessions/{id}', (id) => request(t.url).patch(`/v1/chat/sessions/${id}`).set(b.auth).send({ title: 'pwned', system_prompt: 'pwned', metadata: { pwned: true } })],
      ['PATCH /v1/chat/sessions/{id} with an empty body', (id) => request(t.url).patch(`/v1/chat/sessions/${id}`).set(b.auth).send({})],
      ['DELETE /v1/chat/sessions/{id}?soft=true', (id) => request(t.url).delete(`/v1/chat/sessions/${id}?soft=true`).set(b.auth)],
      ['DELETE /v1/chat/sessions/{id}', (id) => request(t.url).delete(`/v1/chat/sessions/${id}`).set(b.auth)],
      ['POST /v1/chat/sessions/{id}/restore', (id) => request(t.url).post(`/v1/chat/sessions/${id}/restore`).set(b.auth)],
      ['GET /v1/chat/sessions/{id}/messages', (id) => request(t.url).get(`/v1/chat/sessions/${id}/messages`).set(b.auth)],
      ['GET /v1/chat/sessions/{id}/messages?after_id=0', (id) => request(t.url).get(`/v1/chat/sessions/${id}/messages?after_id=0&page_size=1`).set(b.auth)],
      ['POST /v1/chat/switch-model', (id) => request(t.url).post('/v1/chat/switch-model').set(b.auth).send({ session_id: id, model: 'gpt-3.5-turbo' })],
      ['POST /v1/chat/stream (stream: false)', (id) => stream(b, { stream: false, session_id: id, messages: [{ role: 'user', content: 'injected' }] })],
      ['POST /v1/chat/stream (SSE)', (id) => stream(b, { session_id: id, messages: [{ role: 'user', content: 'injected' }] })],
      ['POST /v1/chat/stream (typed events)', (id) => stream(b, { session_id: id, stream_format: 'events', messages: [{ role: 'user', content: 'injected' }] })],
      ['POST /v1/chat/stream with a model', (id) => stream(b, { stream: false, session_id: id, model: 'gpt-4', messages: [{ role: 'system', content: 'override' }, { role: 'user', content: 'x' }] })],
    ];

    it.each(calls)('%s', async (_name, call) => {
      const before = await snapshotOfA();
      const missing = await call(MISSING);
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
      const { instance: _i, ...missingBody } = missing.body;
      for (const id of [active, archived]) {
        const res = await call(id);
        expect(res.status).toBe(404);
        expect(res.headers['content-type']).toBe(missing.headers['content-type']);
        expect(res.headers['x-session-id']).toBeUndefined();
        const { instance, ...body } = res.body;
        expect(body).toEqual(missingBody);
        expect(typeof instance === 'string' || instance === undefined).toBe(true);
        expect(JSON.stringify(res.body)).not.toMatch(/private|secret|to be archived/i);
      }
      expect(await snapshotOfA()).toEqual(before);
      // B has nothing: no session was created for B along the way.
      const bList = await request(t.url).get('/v1/chat/sessions').set(b.auth).expect(200);
      expect(bList.body.total).toBe(0);
      expect((await request(t.url).get('/v1/chat/history').set(b.auth).expect(200)).body.total).toBe(0);
    });

    it("B's listings, history and stats never show A's sessions", async () => {
      for (const q of ['', '?archived=true', `?search=${encodeURIComponent('private')}`, '?model=gpt-4']) {
        expect((await request(t.url).get(`/v1/chat/sessions${q}`).set(b.auth).expect(200)).body.total).toBe(0);
      }
      expect((await request(t.url).get('/v1/chat/history?model=gpt-4').set(b.auth).expect(200)).body.total).toBe(0);
      const stats = await request(t.url).get('/v1/users/me/stats').set(b.auth).expect(200);
      expect(stats.body).toMatchObject({ sessions: 0, messages: 0 });
    });

    it('A still owns and can use both sessions afterwards', async () => {
      await request(t.url).get(`/v1/chat/sessions/${active}`).set(a.auth).expect(200);
      const msgs = await request(t.url).get(`/v1/chat/sessions/${active}/messages`).set(a.auth).expect(200);
      expect(msgs.body.items.map((m: { content: string }) => m.content)).not.toContain('injected');
      expect(msgs.body.total).toBe(4);
      const archivedNow = await request(t.url).get(`/v1/chat/sessions/${archived}`).set(a.auth).expect(200);
      expect(archivedNow.body.archived_at).not.toBeNull();
    });
  });

  describe('mass assignment → 422 and nothing changes', () => {
    const forbidden: [string, unknown][] = [
      ['user_id', 0],
      ['application_id', 1],
      ['tokens_input', 0],
      ['tokens_output', 0],
      ['cost', 0],
      ['message_count', 0],
      ['archived_at', null],
      ['created_at', '2000-01-01T00:00:00Z'],
      ['role', 'admin'],
      ['tier', 'pro'],
    ];

    it.each(forbidden)('POST /v1/chat/sessions with %s', async (field, value) => {
      const before = await snapshotOfA();
      const res = await request(t.url).post('/v1/chat/sessions').set(a.auth).send({ title: 'mass', [field]: field === 'user_id' ? b.id : value });
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await snapshotOfA()).toEqual(before);
      expect((await request(t.url).get('/v1/chat/sessions').set(b.auth).expect(200)).body.total).toBe(0);
    });

    it.each(forbidden)('PATCH /v1/chat/sessions/{id} with %s', async (field, value) => {
      const before = await snapshotOfA();
      const res = await request(t.url)
        .patch(`/v1/chat/sessions/${active}`)
        .set(a.auth)
        .send({ title: 'mass', [field]: field === 'user_id' ? b.id : value });
      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await snapshotOfA()).toEqual(before);
    });

    it.each([
      ['user_id on stream', () => ({ stream: false, user_id: 1, messages: [{ role: 'user', content: 'x' }] })],
      ['role on stream', () => ({ stream: false, role: 'admin', messages: [{ role: 'user', content: 'x' }] })],
      ['tier on stream', () => ({ stream: false, tier: 'pro', messages: [{ role: 'user', content: 'x' }] })],
      ['tier inside a message', () => ({ stream: false, messages: [{ role: 'user', content: 'x', tier: 'pro' }] })],
      ['user_id inside a message', () => ({ stream: false, session_id: active, messages: [{ role: 'user', content: 'x', user_id: 1 }] })],
      ['an unknown message role', () => ({ stream: false, session_id: active, messages: [{ role: 'admin', content: 'x' }] })],
      ['cost on stream into an existing session', () => ({ stream: false, session_id: active, cost: 0, messages: [{ role: 'user', content: 'x' }] })],
    ])('POST /v1/chat/stream with %s', async (_name, body) => {
      const before = await snapshotOfA();
      const res = await stream(a, body());
      expect(res.status).toBe(422);
      expect(await snapshotOfA()).toEqual(before);
    });

    it.each([
      ['user_id', 0],
      ['role', 'admin'],
      ['tier', 'pro'],
      ['title', 'x'],
    ])('POST /v1/chat/switch-model with %s', async (field, value) => {
      const before = await snapshotOfA();
      const res = await request(t.url).post('/v1/chat/switch-model').set(a.auth).send({ session_id: active, model: 'gpt-3.5-turbo', [field]: value });
      expect(res.status).toBe(422);
      expect(await snapshotOfA()).toEqual(before);
    });

    it.each([
      ['/v1/chat/sessions?user_id=%B'],
      ['/v1/chat/history?user_id=%B'],
      ['/v1/chat/sessions/%A/messages?session_id=%A'],
    ])('GET %s is 422 (no filter by someone else)', async (path) => {
      const res = await request(t.url)
        .get(path.replace(/%B/g, String(a.id)).replace(/%A/g, String(active)))
        .set(b.auth);
      expect(res.status).toBe(422);
    });

    it("A's role and tier are unchanged", async () => {
      const me = await request(t.url).get('/v1/users/me').set(a.auth).expect(200);
      expect(me.body).toMatchObject({ id: a.id, role: 'user', tier: 'free' });
    });
  });

  describe('error answers leak nothing', () => {
    const samples: [string, () => request.Test][] = [
      ['401 no token', () => request(t.url).get('/v1/chat/sessions')],
      ['401 garbage token', () => request(t.url).get('/v1/chat/sessions').set('Authorization', 'Bearer not.a.jwt')],
      ['400 bad path id', () => request(t.url).get('/v1/chat/sessions/abc').set(a.auth)],
      ['400 non-integer path id', () => request(t.url).get('/v1/chat/sessions/1.5').set(a.auth)],
      ['404 huge path id', () => request(t.url).get('/v1/chat/sessions/99999999999999999999').set(a.auth)],
      ['404 missing session', () => request(t.url).get(`/v1/chat/sessions/${MISSING}`).set(a.auth)],
      ['404 foreign session', () => request(t.url).get(`/v1/chat/sessions/${active}`).set(b.auth)],
      ['404 unknown route', () => request(t.url).get('/v1/chat/nope').set(a.auth)],
      ['400 malformed JSON', () => request(t.url).post('/v1/chat/sessions').set(a.auth).set('Content-Type', 'application/json').send('{"title": ')],
      ['400 unknown model', () => request(t.url).post('/v1/chat/sessions').set(a.auth).send({ model: "x'; DROP TABLE users; --" })],
      ['400 start after end', () => request(t.url).get('/v1/chat/history?start_date=2024-02-01&end_date=2024-01-01').set(a.auth)],
      ['409 send to archived', () => stream(a, { stream: false, session_id: archived, messages: [{ role: 'user', content: 'x' }] })],
      ['422 validation', () => request(t.url).post('/v1/chat/sessions').set(a.auth).send({ title: 5, user_id: 3 })],
      ['422 bad date', () => request(t.url).get("/v1/chat/history?start_date=2024-01-01'%20OR%201=1--").set(a.auth)],
      ['422 metadata null', () => request(t.url).patch(`/v1/chat/sessions/${active}`).set(a.auth).send({ metadata: null })],
      ['400 bad user id (admin)', () => request(t.url).get('/v1/users/abc').set(admin)],
      ['404 huge user id (admin)', () => request(t.url).get('/v1/users/99999999999').set(admin)],
      ['400 bad user id in PATCH (admin)', () => request(t.url).patch('/v1/users/1.5').set(admin).send({ tier: 'pro' })],
      ['413 body too large', () => request(t.url).post('/v1/chat/sessions').set(a.auth).send({ title: 'x', metadata: { blob: 'z'.repeat(3 * 1024 * 1024) } })],
    ];

    it.each(samples)('%s', async (name, call) => {
      const res = await call();
      // Leaks first (whatever the status), then the status the contract names.
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(res.text);
      expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.status, detail: expect.any(String) });
      expect(body.detail.length).toBeGreaterThan(0);
      const text = res.text;
      expect(text).not.toMatch(/\bat\s+\S+\s+\(|\bat\s+\/|\.ts:\d+|\.js:\d+|node_modules/);
      expect(text).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE FROM|QueryFailedError|TypeORM|typeorm|pg_|violates|relation "|syntax error)\b/);
      expect(text).not.toContain(TEST_ENV.JWT_SECRET);
      expect(text).not.toMatch(/postgres(ql)?:\/\//i);
      expect(text).not.toMatch(/TypeError|ReferenceError|Cannot read prop|is not a function|\bstack\b/);
      expect(res.status).toBe(Number(name.slice(0, 3)));
    });
  });
});
