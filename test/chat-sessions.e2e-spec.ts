import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { startApp, TestApp } from './support/app';
import { registerUser, TestUser } from './support/users';

/** Chat session CRUD, listing, the API guide's history, soft/hard delete and path ids, over real HTTP and PostgreSQL. */
describe('Chat sessions (e2e)', () => {
  let t: TestApp;
  let defaultModel: string;

  beforeAll(async () => {
    t = await startApp();
    const config = await request(t.url).get('/config').expect(200);
    defaultModel = config.body.default_model;
    expect(typeof defaultModel).toBe('string');
  });
  afterAll(() => t.close());

  const create = (u: TestUser, body: object = {}) => request(t.url).post('/v1/chat/sessions').set(u.auth).send(body);
  const get = (u: TestUser, id: number) => request(t.url).get(`/v1/chat/sessions/${id}`).set(u.auth);
  const patch = (u: TestUser, id: number, body: object) => request(t.url).patch(`/v1/chat/sessions/${id}`).set(u.auth).send(body);
  const list = (u: TestUser, query: object = {}) => request(t.url).get('/v1/chat/sessions').query(query).set(u.auth);
  const history = (u: TestUser, query: object = {}) => request(t.url).get('/v1/chat/history').query(query).set(u.auth);
  const send = (u: TestUser, sessionId: number, content = 'hello there') =>
    request(t.url).post('/v1/chat/stream').set(u.auth).send({ stream: false, session_id: sessionId, messages: [{ role: 'user', content }] });
  const ids = (items: { id: number }[]) => items.map((s) => s.id);

  const expectProblem = (res: request.Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String), type: expect.any(String), detail: expect.any(String) });
  };
  const fieldsOf = (res: request.Response) => (res.body.errors ?? []).map((e: { field: string }) => e.field);

  describe('POST /v1/chat/sessions', () => {
    let u: TestUser;
    beforeAll(async () => {
      u = await registerUser(t.url);
    });

    it('creates a session with the defaults: the default model, no title, empty totals', async () => {
      const res = await create(u);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        user_id: u.id,
        application_id: null,
        model: defaultModel,
        title: null,
        system_prompt: null,
        summary: null,
        message_count: 0,
        tokens_input: 0,
        tokens_output: 0,
        cost: 0,
        metadata: {},
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
        updated_at: expect.stringMatching(/Z$/),
        archived_at: null,
        prompt_id: null,
        prompt_version: null,
        active_leaf_id: null,
        forked_from: null,
      });
      const again = await get(u, res.body.id).expect(200);
      expect(again.body).toEqual(res.body);
    });

    it('stores title, a model alias resolved to its id, system_prompt and metadata', async () => {
      const metadata = { project: 'apollo', tags: ['a', 'b'], nested: { n: 1, ok: true } };
      const res = await create(u, { title: 'Trip planning', model: 'gpt-4', system_prompt: 'You are terse.', metadata });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ title: 'Trip planning', model: 'openai/gpt-4', system_prompt: 'You are terse.', metadata });
      const stored = await get(u, res.body.id).expect(200);
      expect(stored.body).toMatchObject({ title: 'Trip planning', model: 'openai/gpt-4', system_prompt: 'You are terse.', metadata });
      const byFullId = await create(u, { model: 'openai/gpt-3.5-turbo' }).expect(201);
      expect(byFullId.body.model).toBe('openai/gpt-3.5-turbo');
      const byOtherAlias = await create(u, { model: 'fast' }).expect(201);
      expect(byOtherAlias.body.model).toBe('openai/gpt-4o-mini');
    });

    it('answers 400 for an unknown model and stores nothing', async () => {
      const before = (await list(u).expect(200)).body.total;
      const res = await create(u, { title: 'x', model: 'no-such-model-9000' });
      expectProblem(res, 400);
      expect(res.body.detail).toContain('no-such-model-9000');
      expect((await list(u).expect(200)).body.total).toBe(before);
    });

    it.each([
      ['user_id', 999],
      ['application_id', 1],
      ['message_count', 50],
      ['tokens_input', 1],
      ['archived_at', '2024-01-01T00:00:00Z'],
      ['summary', 'forged'],
      ['id', 424242],
    ])('rejects the unknown field %s with 422 and stores nothing', async (field, value) => {
      const before = (await list(u).expect(200)).body.total;
      const res = await create(u, { title: `with ${field}`, [field]: value });
      expectProblem(res, 422);
      expect(fieldsOf(res)).toContain(field);
      expect((await list(u).expect(200)).body.total).toBe(before);
    });

    it('rejects metadata over 16 KiB (422) but accepts metadata just under it', async () => {
      const big = await create(u, { metadata: { blob: 'x'.repeat(17 * 1024) } });
      expectProblem(big, 422);
      expect(fieldsOf(big)).toContain('metadata');
      const ok = await create(u, { metadata: { blob: 'x'.repeat(16 * 1024 - 20) } });
      expect(ok.status).toBe(201);
    });

    it.each([
      ['an empty title', { title: '' }],
      ['a non-string title', { title: 42 }],
      ['metadata that is an array', { metadata: [1, 2] }],
      ['metadata that is a string', { metadata: 'x' }],
    ])('rejects %s with 422', async (_what, body) => {
      expectProblem(await create(u, body), 422);
    });
  });

  describe('GET /v1/chat/sessions', () => {
    let u: TestUser;
    const made: Record<string, number> = {};

    beforeAll(async () => {
      u = await registerUser(t.url);
      for (const [title, model] of [
        ['100% done', 'gpt-4'],
        ['snake_case notes', 'fast'],
        ['Plain Title', 'gpt-4'],
        ['100 percent', 'fast'],
        ['snakeXcase', 'fast'],
        ['back\\slash', 'fast'],
      ] as const) {
        made[title] = (await create(u, { title, model }).expect(201)).body.id;
      }
    });

    it('answers { total, page, page_size, items } without messages, newest first', async () => {
      const res = await list(u).expect(200);
      expect(res.body).toMatchObject({ total: 6, page: 1, page_size: 20 });
      expect(res.body.items).toHaveLength(6);
      expect(ids(res.body.items)).toEqual(Object.values(made).reverse());
      expect(res.body.items[0]).not.toHaveProperty('messages');
      expect(res.body.items[0]).toMatchObject({ user_id: u.id, archived_at: null });
    });

    it('pages', async () => {
      const p1 = await list(u, { page: 1, page_size: 4 }).expect(200);
      const p2 = await list(u, { page: 2, page_size: 4 }).expect(200);
      const p3 = await list(u, { page: 3, page_size: 4 }).expect(200);
      expect(p1.body).toMatchObject({ total: 6, page: 1, page_size: 4 });
      expect(p1.body.items).toHaveLength(4);
      expect(p2.body).toMatchObject({ total: 6, page: 2, page_size: 4 });
      expect(p2.body.items).toHaveLength(2);
      expect(p3.body.items).toHaveLength(0);
      expect([...ids(p1.body.items), ...ids(p2.body.items)]).toEqual(Object.values(made).reverse());
    });

    it('searches titles case-insensitively, with % _ and \\ taken literally', async () => {
      const search = async (s: string) => ids((await list(u, { search: s }).expect(200)).body.items).sort();
      expect(await search('plain title')).toEqual([made['Plain Title']]);
      expect(await search('PLAIN')).toEqual([made['Plain Title']]);
      expect(await search('%')).toEqual([made['100% done']]);
      expect(await search('100%')).toEqual([made['100% done']]);
      expect(await search('_')).toEqual([made['snake_case notes']]);
      expect(await search('snake_case')).toEqual([made['snake_case notes']]);
      expect(await search('\\')).toEqual([made['back\\slash']]);
      expect(await search('nothing like this')).toEqual([]);
      const res = await list(u, { search: 'snake' }).expect(200);
      expect(res.body.total).toBe(2);
    });

    it('filters by model, by alias or by id', async () => {
      const gpt4 = [made['100% done'], made['Plain Title']].sort();
      expect(ids((await list(u, { model: 'gpt-4' }).expect(200)).body.items).sort()).toEqual(gpt4);
      expect(ids((await list(u, { model: 'openai/gpt-4' }).expect(200)).body.items).sort()).toEqual(gpt4);
      const fast = await list(u, { model: 'fast' }).expect(200);
      expect(fast.body.total).toBe(4);
      expect(fast.body.items.every((s: { model: string }) => s.model === 'openai/gpt-4o-mini')).toBe(true);
      expect((await list(u, { model: 'no-such-model' }).expect(200)).body.total).toBe(0);
    });

    it('does not list another user\'s sessions', async () => {
      const other = await registerUser(t.url);
      await create(other, { title: 'Plain Title too' }).expect(201);
      expect((await list(u, { search: 'plain' }).expect(200)).body.total).toBe(1);
      expect((await list(other).expect(200)).body.total).toBe(1);
    });

    it.each([
      ['page_size=101', { page_size: 101 }],
      ['page_size=0', { page_size: 0 }],
      ['page=0', { page: 0 }],
      ['page=-1', { page: -1 }],
      ['page=abc', { page: 'abc' }],
      ['archived=maybe', { archived: 'maybe' }],
      ['an unknown parameter', { user_id: 1 }],
    ])('rejects %s with 422', async (_what, query) => {
      expectProblem(await list(u, query), 422);
    });

    it('accepts page_size=100', async () => {
      expect((await list(u, { page_size: 100 }).expect(200)).body.page_size).toBe(100);
    });
  });

  describe('GET and PATCH /v1/chat/sessions/{id}', () => {
    let u: TestUser;
    let id: number;

    beforeAll(async () => {
      u = await registerUser(t.url);
      id = (await create(u, { title: 'Before', system_prompt: 'Old prompt', metadata: { a: 1 }, model: 'gpt-4' }).expect(201)).body.id;
    });

    it('changes title, system_prompt and metadata (replaced whole) and keeps the rest', async () => {
      const before = (await get(u, id).expect(200)).body;
      await sleep(5);
      const res = await patch(u, id, { title: 'After', system_prompt: 'New prompt', metadata: { b: 2 } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, title: 'After', system_prompt: 'New prompt', metadata: { b: 2 }, model: 'openai/gpt-4' });
      expect(res.body.metadata).toEqual({ b: 2 });
      expect(res.body.created_at).toBe(before.created_at);
      expect(Date.parse(res.body.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
      expect((await get(u, id).expect(200)).body).toEqual(res.body);
    });

    it('changes only the fields sent', async () => {
      const res = await patch(u, id, { title: 'Only title' }).expect(200);
      expect(res.body).toMatchObject({ title: 'Only title', system_prompt: 'New prompt', metadata: { b: 2 } });
    });

    it('clears the system prompt with system_prompt: null', async () => {
      const res = await patch(u, id, { system_prompt: null }).expect(200);
      expect(res.body.system_prompt).toBeNull();
      expect((await get(u, id).expect(200)).body.system_prompt).toBeNull();
    });

    it('never answers 500 for metadata: null (422, or cleared to {})', async () => {
      const res = await patch(u, id, { metadata: null });
      expect(res.status).not.toBe(500);
      expect([200, 422]).toContain(res.status);
      const after = (await get(u, id).expect(200)).body;
      expect(after.metadata).toEqual(res.status === 200 ? {} : { b: 2 });
    });

    it.each([
      ['model', 'gpt-3.5-turbo'],
      ['summary', 'a forged summary'],
      ['user_id', 1],
      ['message_count', 10],
      ['cost', 0],
      ['archived_at', null],
    ])('rejects %s with 422 and changes nothing', async (field, value) => {
      const before = (await get(u, id).expect(200)).body;
      const res = await patch(u, id, { title: 'Sneaky', [field]: value });
      expectProblem(res, 422);
      expect(fieldsOf(res)).toContain(field);
      expect((await get(u, id).expect(200)).body).toEqual(before);
    });

    it('rejects an empty title and metadata over 16 KiB', async () => {
      expectProblem(await patch(u, id, { title: '' }), 422);
      expectProblem(await patch(u, id, { metadata: { blob: 'y'.repeat(17_000) } }), 422);
    });

    it('answers 404 for an id that does not exist', async () => {
      expectProblem(await get(u, 2_147_483_000), 404);
      expectProblem(await patch(u, 2_147_483_000, { title: 'x' }), 404);
    });
  });

  describe('path ids', () => {
    let u: TestUser;
    beforeAll(async () => {
      u = await registerUser(t.url);
    });

    it.each([
      ['GET', '/v1/chat/sessions/abc', 400],
      ['GET', '/v1/chat/sessions/1.5', 400],
      ['GET', '/v1/chat/sessions/-1', 400],
      ['GET', '/v1/chat/sessions/99999999999', 404],
      ['GET', '/v1/chat/sessions/0', 400],
      ['GET', '/v1/chat/sessions/abc/messages', 400],
      ['GET', '/v1/chat/sessions/99999999999/messages', 404],
      ['PATCH', '/v1/chat/sessions/99999999999', 404],
      ['DELETE', '/v1/chat/sessions/abc', 400],
      ['DELETE', '/v1/chat/sessions/99999999999', 404],
      ['POST', '/v1/chat/sessions/99999999999/restore', 404],
    ])('%s %s → %i', async (method, path, status) => {
      const api = request(t.url);
      const res = await api[method.toLowerCase() as 'get' | 'patch' | 'delete' | 'post'](path)
        .set(u.auth)
        .send(method === 'PATCH' ? { title: 'x' } : undefined);
      expectProblem(res, status);
    });

    it('does not read an id written another way (1e0, 1.0, 0x1, " 1") as a valid id', async () => {
      const id = (await create(u, { title: 'the real one' }).expect(201)).body.id;
      expect((await get(u, id).expect(200)).body.id).toBe(id);
      for (const alias of [`${id}e0`, `${id}.0`, `0x${id.toString(16)}`, `%20${id}`]) {
        expectProblem(await request(t.url).get(`/v1/chat/sessions/${alias}`).set(u.auth), 400);
      }
    });

    it('switch-model with an out-of-range or missing session id is 422/404, never 500', async () => {
      expectProblem(await request(t.url).post('/v1/chat/switch-model').set(u.auth).send({ session_id: 99999999999, model: 'gpt-4' }), 422);
      expectProblem(await request(t.url).post('/v1/chat/switch-model').set(u.auth).send({ session_id: 2_147_483_000, model: 'gpt-4' }), 404);
    });
  });

  describe('soft and hard DELETE', () => {
    let u: TestUser;
    beforeAll(async () => {
      u = await registerUser(t.url);
    });

    it('?soft=true archives: hidden from list and history, listed with archived=true, 409 on send, restorable', async () => {
      const keep = (await create(u, { title: 'kept' }).expect(201)).body.id;
      const id = (await create(u, { title: 'to archive' }).expect(201)).body.id;
      await send(u, id, 'first turn').expect(200);

      const del = await request(t.url).delete(`/v1/chat/sessions/${id}`).query({ soft: true }).set(u.auth);
      expect(del.status).toBe(200);
      expect(typeof del.body.message).toBe('string');

      const archived = (await get(u, id).expect(200)).body;
      expect(archived.archived_at).toEqual(expect.stringMatching(/Z$/));
      expect(Math.abs(Date.parse(archived.archived_at) - Date.now())).toBeLessThan(60_000);
      expect(archived.message_count).toBe(2);

      expect(ids((await list(u).expect(200)).body.items)).toEqual([keep]);
      const onlyArchived = await list(u, { archived: true }).expect(200);
      expect(onlyArchived.body.total).toBe(1);
      expect(ids(onlyArchived.body.items)).toEqual([id]);
      expect(ids((await list(u, { archived: false }).expect(200)).body.items)).toEqual([keep]);
      const hist = await history(u).expect(200);
      expect(hist.body.total).toBe(1);
      expect(ids(hist.body.sessions)).toEqual([keep]);

      const refused = await send(u, id, 'while archived');
      expectProblem(refused, 409);
      const msgs = await request(t.url).get(`/v1/chat/sessions/${id}/messages`).set(u.auth).expect(200);
      expect(msgs.body.total).toBe(2);
      expect(msgs.body.items).toHaveLength(2);

      const restored = await request(t.url).post(`/v1/chat/sessions/${id}/restore`).set(u.auth);
      expect(restored.status).toBe(200);
      expect(restored.body).toMatchObject({ id, archived_at: null, title: 'to archive', message_count: 2 });
      expect(ids((await list(u).expect(200)).body.items).sort()).toEqual([keep, id].sort());
      expect((await list(u, { archived: true }).expect(200)).body.total).toBe(0);
      expect((await history(u).expect(200)).body.total).toBe(2);
      await send(u, id, 'after restore').expect(200);
    });

    it('hard DELETE answers the documented message, then the session and its messages are gone', async () => {
      const id = (await create(u, { title: 'doomed' }).expect(201)).body.id;
      await send(u, id).expect(200);
      const db = t.app.get(DataSource);
      expect(Number((await db.query('SELECT count(*) AS n FROM messages WHERE session_id = $1', [id]))[0].n)).toBe(2);

      const res = await request(t.url).delete(`/v1/chat/sessions/${id}`).set(u.auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: 'Session deleted successfully' });

      expectProblem(await get(u, id), 404);
      expectProblem(await request(t.url).get(`/v1/chat/sessions/${id}/messages`).set(u.auth), 404);
      expectProblem(await request(t.url).delete(`/v1/chat/sessions/${id}`).set(u.auth), 404);
      expectProblem(await request(t.url).post(`/v1/chat/sessions/${id}/restore`).set(u.auth), 404);
      expectProblem(await send(u, id), 404);
      expect(Number((await db.query('SELECT count(*) AS n FROM messages WHERE session_id = $1', [id]))[0].n)).toBe(0);
      expect(ids((await history(u).expect(200)).body.sessions)).not.toContain(id);
    });

    it('a hard DELETE also removes an archived session', async () => {
      const id = (await create(u, { title: 'archived then deleted' }).expect(201)).body.id;
      await request(t.url).delete(`/v1/chat/sessions/${id}?soft=true`).set(u.auth).expect(200);
      await request(t.url).delete(`/v1/chat/sessions/${id}`).set(u.auth).expect(200);
      expectProblem(await get(u, id), 404);
    });

    it('rejects an invalid soft value with 422', async () => {
      const id = (await create(u, { title: 'x' }).expect(201)).body.id;
      expectProblem(await request(t.url).delete(`/v1/chat/sessions/${id}?soft=yes`).set(u.auth), 422);
      expect((await get(u, id).expect(200)).body.archived_at).toBeNull();
    });
  });

  describe('GET /v1/chat/history', () => {
    it('defaults to page_size 10, returns the documented shape, newest updated_at first', async () => {
      const u = await registerUser(t.url);
      const made: number[] = [];
      for (let i = 0; i < 11; i++) made.push((await create(u, { title: `s${i}` }).expect(201)).body.id);
      const res = await history(u).expect(200);
      expect(res.body).toMatchObject({ total: 11, page: 1, page_size: 10 });
      expect(res.body.sessions).toHaveLength(10);
      expect(ids(res.body.sessions)).toEqual([...made].reverse().slice(0, 10));
      expect(Object.keys(res.body.sessions[0]).sort()).toEqual(
        ['application_id', 'created_at', 'id', 'messages', 'model', 'title', 'updated_at', 'user_id'].sort(),
      );
      const p2 = await history(u, { page: 2 }).expect(200);
      expect(ids(p2.body.sessions)).toEqual([made[0]]);

      // A session that gets a new message moves to the front.
      await sleep(5);
      await send(u, made[3], 'bump me').expect(200);
      const after = await history(u).expect(200);
      expect(after.body.sessions[0].id).toBe(made[3]);
      expect(after.body.sessions[0].messages).toEqual([
        { role: 'user', content: 'bump me' },
        { role: 'assistant', content: expect.any(String) },
      ]);
      expect(after.body.sessions[1].id).toBe(made[10]);
      const stamps = after.body.sessions.map((s: { updated_at: string }) => Date.parse(s.updated_at));
      expect([...stamps].sort((a, b) => b - a)).toEqual(stamps);

      // So does a renamed one (PATCH changes updated_at).
      await sleep(5);
      await patch(u, made[5], { title: 'renamed' }).expect(200);
      expect((await history(u).expect(200)).body.sessions[0].id).toBe(made[5]);
    });

    it('filters by model alias: gpt-4 matches sessions whose model is openai/gpt-4', async () => {
      const u = await registerUser(t.url);
      const a = (await create(u, { model: 'gpt-4', title: 'a' }).expect(201)).body.id;
      await create(u, { model: 'fast', title: 'b' }).expect(201);
      const c = (await create(u, { model: 'openai/gpt-4', title: 'c' }).expect(201)).body.id;
      const res = await history(u, { model: 'gpt-4' }).expect(200);
      expect(res.body.total).toBe(2);
      expect(ids(res.body.sessions)).toEqual([c, a]);
      expect(res.body.sessions.every((s: { model: string }) => s.model === 'openai/gpt-4')).toBe(true);
      expect((await history(u, { model: 'openai/gpt-4' }).expect(200)).body.total).toBe(2);
      expect((await history(u, { model: 'gpt-4o-mini' }).expect(200)).body.total).toBe(1);
    });

    it('filters by start_date and end_date (creation time)', async () => {
      const u = await registerUser(t.url);
      const s1 = (await create(u, { title: 'early' }).expect(201)).body;
      await sleep(60);
      const s2 = (await create(u, { title: 'middle' }).expect(201)).body;
      await sleep(60);
      const s3 = (await create(u, { title: 'late' }).expect(201)).body;
      const between = (x: { created_at: string }, y: { created_at: string }) =>
        new Date((Date.parse(x.created_at) + Date.parse(y.created_at)) / 2).toISOString();
      const m12 = between(s1, s2);
      const m23 = between(s2, s3);

      expect(ids((await history(u, { start_date: m12 }).expect(200)).body.sessions)).toEqual([s3.id, s2.id]);
      expect(ids((await history(u, { end_date: m12 }).expect(200)).body.sessions)).toEqual([s1.id]);
      const window = await history(u, { start_date: m12, end_date: m23 }).expect(200);
      expect(window.body.total).toBe(1);
      expect(ids(window.body.sessions)).toEqual([s2.id]);
      expect((await history(u, { start_date: '2000-01-01', end_date: '2000-12-31' }).expect(200)).body.total).toBe(0);
      expect((await history(u, { start_date: '2000-01-01T00:00:00Z' }).expect(200)).body.total).toBe(3);
    });

    it('answers 400 when start_date is after end_date', async () => {
      const u = await registerUser(t.url);
      expectProblem(await history(u, { start_date: '2024-06-02T00:00:00Z', end_date: '2024-06-01T00:00:00Z' }), 400);
    });

    it.each([
      ['start_date=yesterday', { start_date: 'yesterday' }],
      ['end_date=2024-13-45', { end_date: '2024-13-45' }],
      ['start_date=12345', { start_date: '12345x' }],
      ['page_size=101', { page_size: 101 }],
      ['page=0', { page: 0 }],
      ['an unknown parameter', { user_id: 1 }],
    ])('rejects %s with 422', async (_what, query) => {
      const u = await registerUser(t.url);
      const res = await history(u, query);
      expectProblem(res, 422);
    });

    it('never answers 500 for a well-formed but impossible date', async () => {
      const u = await registerUser(t.url);
      for (const d of ['2024-02-30', '2024-02-30T10:00:00Z', '2023-02-29']) {
        const res = await history(u, { start_date: d });
        expect([200, 422]).toContain(res.status);
      }
    });
  });
});
