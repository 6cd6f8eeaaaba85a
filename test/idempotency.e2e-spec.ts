import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, streamPost } from './support/sse';
import { registerUser, TestUser } from './support/users';

const KEY = 'sk-idempotent';
const ask = (content = 'Tell me.', extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
const PIECES = Array.from({ length: 10 }, (_, i) => `p${i} `);

/** Every event with its `id:` line, as a client sees them. */
function eventsOf(body: string): { id?: string; event?: string; data: string }[] {
  const blocks = body.split(/\n\n/).filter((b) => b.trim() && !b.startsWith(':'));
  return parseSse(body).map((e, i) => ({ ...e, id: /^id: (\d+)$/m.exec(blocks[i])?.[1] }));
}

/** The typed events without their timing (the replay of a running answer repeats the first client's events). */
const comparable = (body: string) =>
  eventsOf(body).map((e) => {
    if (e.event !== 'done') return e;
    const { server_timing: _timing, ...rest } = JSON.parse(e.data) as Record<string, unknown>;
    return { ...e, data: rest };
  });

describe.each([
  ['one instance, no Redis', false],
  ['two instances on Redis', true],
])('Idempotency-Key (%s)', (_name, withRedis) => {
  let fake: FakeOpenAi;
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    const env: Record<string, string | undefined> = { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY };
    if (withRedis) {
      env.REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/11';
      env.STREAMS_KEY_PREFIX = `test-idempotency-${randomUUID()}:`;
    }
    a = await startApp(env);
    b = withRedis ? await startApp({ ...env, DATABASE_URL: process.env.DATABASE_URL }) : a;
    user = await registerUser(a.url);
  });

  afterAll(async () => {
    if (b !== a) await b.close();
    await a.close();
    await fake.close();
  });

  beforeEach(() => fake.reset());

  const withKey = (key: string) => ({ ...user.auth, 'Idempotency-Key': key });

  it('a streamed send repeated with its key is replayed: one provider call, the same events, Idempotent-Replayed', async () => {
    fake.script({ pieces: PIECES, delayMs: 5 });
    const key = randomUUID();
    const first = await streamPost(a.url, '/v1/chat/stream', ask('Once.', { stream_format: 'events' }), withKey(key));
    const again = await streamPost(b.url, '/v1/chat/stream', ask('Once.', { stream_format: 'events' }), withKey(key));
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['x-session-id']).toBe(first.headers['x-session-id']);
    expect(comparable(again.body)).toEqual(comparable(first.body));
    expect(eventsOf(again.body).filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('')).toBe(PIECES.join(''));

    // The plain format, quoted key (a structured-field string), fields in another order: the same request.
    const plainKey = randomUUID();
    const plain = await streamPost(a.url, '/v1/chat/stream', ask('Plain.'), withKey(`"${plainKey}"`));
    const reordered = { messages: [{ content: 'Plain.', role: 'user' }], model: 'gpt-4o-mini' };
    const plainAgain = await streamPost(b.url, '/v1/chat/stream', reordered, withKey(plainKey));
    expect(fake.requests).toHaveLength(2);
    expect(plainAgain.headers['idempotent-replayed']).toBe('true');
    expect(plainAgain.body).toBe(plain.body);
  });

  it('a repeat while the first answer still streams follows it live and gets every event', async () => {
    fake.script({ pieces: PIECES, delayMs: 80 });
    const key = randomUUID();
    const body = ask('Live.', { stream_format: 'events' });
    let firstStarted = false;
    const first = streamPost(a.url, '/v1/chat/stream', body, withKey(key), (soFar) => {
      if (soFar.includes('event: delta')) firstStarted = true;
    });
    while (!firstStarted) await new Promise((r) => setTimeout(r, 10));
    const again = await streamPost(b.url, '/v1/chat/stream', body, withKey(key));
    const done = await first;
    expect(fake.requests).toHaveLength(1);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(comparable(again.body)).toEqual(comparable(done.body));
  });

  it('a JSON answer repeated with its key is returned as stored', async () => {
    fake.script({ pieces: ['Stored', ' once.'] });
    const key = randomUUID();
    const first = await request(a.url).post('/v1/chat/stream').set(withKey(key)).send(ask('JSON.', { stream: false }));
    const again = await request(b.url).post('/v1/chat/stream').set(withKey(key)).send(ask('JSON.', { stream: false }));
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['x-session-id']).toBe(first.headers['x-session-id']);
    expect(again.body).toEqual(first.body);
    expect(first.body.output_text).toBe('Stored once.');
    expect(fake.requests).toHaveLength(1);
    const stored = await request(a.url).get(`/v1/chat/sessions/${first.body.session_id}/messages`).set(user.auth);
    expect(stored.body.items).toHaveLength(2);
  });

  it('the same key with another body is a 422 naming the header; nothing is sent to the provider', async () => {
    fake.script({ pieces: ['One.'] });
    const key = randomUUID();
    await request(a.url).post('/v1/chat/stream').set(withKey(key)).send(ask('First.', { stream: false })).expect(200);
    const other = await request(b.url).post('/v1/chat/stream').set(withKey(key)).send(ask('Second.', { stream: false }));
    expect(other.status).toBe(422);
    expect(other.headers['content-type']).toMatch(/problem\+json/);
    expect(other.body.errors).toEqual([{ field: 'Idempotency-Key', message: expect.stringMatching(/different request/) }]);
    // Another route is another request too.
    const session = await request(b.url).post('/v1/chat/sessions').set(withKey(key)).send({ title: 'x' });
    expect(session.status).toBe(422);
    expect(fake.requests).toHaveLength(1);
  });

  it('two concurrent repeats make one provider call: the other is a replay or a 409 with Retry-After', async () => {
    fake.script({ pieces: ['Only', ' once.'], delayMs: 20 });
    const key = randomUUID();
    const send = (url: string) => request(url).post('/v1/chat/stream').set(withKey(key)).send(ask('Race.', { stream: false }));
    const results = await Promise.all([send(a.url), send(b.url)]);
    expect(fake.requests).toHaveLength(1);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results) {
      if (r.status === 409) {
        expect(r.headers['retry-after']).toBe('1');
        expect(r.body.detail).toMatch(/Idempotency-Key/);
      } else {
        expect(r.status).toBe(200);
        expect(r.body).toEqual(ok[0].body);
      }
    }
    // Repeated afterwards, the key gives the stored answer.
    const later = await send(a.url);
    expect(later.status).toBe(200);
    expect(later.body).toEqual(ok[0].body);
    expect(fake.requests).toHaveLength(1);
  });

  it('a send refused before anything is stored gives its key back: the same request is done again, not replayed', async () => {
    const key = randomUUID();
    const refused = await request(a.url).post('/v1/chat/stream').set(withKey(key)).send(ask('Archived?', { session_id: 2_000_000_000, stream: false }));
    expect(refused.status).toBe(404);
    fake.script({ pieces: ['Now.'] });
    // The same request again does the work (the key was released), not a replay of the 404.
    const retried = await request(a.url).post('/v1/chat/stream').set(withKey(key)).send(ask('Archived?', { session_id: 2_000_000_000, stream: false }));
    expect(retried.status).toBe(404);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('POST /v1/chat/sessions with a key creates one session; a repeat returns it as stored', async () => {
    const key = randomUUID();
    const body = { title: `Idempotent ${key}`, metadata: { n: 1 } };
    const first = await request(a.url).post('/v1/chat/sessions').set(withKey(key)).send(body);
    const again = await request(b.url).post('/v1/chat/sessions').set(withKey(key)).send(body);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const list = await request(a.url).get('/v1/chat/sessions').set(user.auth).query({ page_size: 100 });
    expect(list.body.items.filter((s: { title: string }) => s.title === body.title)).toHaveLength(1);

    const other = await request(a.url).post('/v1/chat/sessions').set(withKey(key)).send({ ...body, title: 'Another' });
    expect(other.status).toBe(422);

    // Concurrent creations with one key: one session.
    const raceKey = randomUUID();
    const raced = await Promise.all([a, b].map((app) => request(app.url).post('/v1/chat/sessions').set(withKey(raceKey)).send({ title: raceKey })));
    expect(raced.map((r) => r.status).sort()).toEqual(expect.arrayContaining([201]));
    for (const r of raced) expect([201, 409]).toContain(r.status);
    const after = await request(a.url).get('/v1/chat/sessions').set(user.auth).query({ page_size: 100 });
    expect(after.body.items.filter((s: { title: string }) => s.title === raceKey)).toHaveLength(1);
  });

  it("keys are per user: another user's same key is a new request", async () => {
    const key = randomUUID();
    const other = await registerUser(a.url);
    const mine = await request(a.url).post('/v1/chat/sessions').set(withKey(key)).send({ title: 'Mine' });
    const theirs = await request(a.url).post('/v1/chat/sessions').set({ ...other.auth, 'Idempotency-Key': key }).send({ title: 'Mine' });
    expect(theirs.status).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('a malformed key is a 400 naming the header', async () => {
    for (const bad of ['', '"unterminated', 'a'.repeat(256), 'two, keys', 'caf\u00e9']) {
      const res = await request(a.url).post('/v1/chat/sessions').set({ ...user.auth, 'Idempotency-Key': bad }).send({ title: 'x' });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('Idempotency-Key');
    }
    const stream = await request(a.url).post('/v1/chat/stream').set({ ...user.auth, 'Idempotency-Key': 'a'.repeat(256) }).send(ask());
    expect(stream.status).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Idempotency keys expire', () => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    t = await startApp({}, (builder) => builder);
    user = await registerUser(t.url);
  });
  afterAll(() => t.close());

  it('a key past idempotency.ttl_seconds is dropped when read: the request is done again', async () => {
    const key = randomUUID();
    const first = await request(t.url).post('/v1/chat/sessions').set({ ...user.auth, 'Idempotency-Key': key }).send({ title: 'Expiring' });
    expect(first.status).toBe(201);
    const db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      // As if a day had passed.
      await db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);
    } finally {
      await db.end();
    }
    const again = await request(t.url).post('/v1/chat/sessions').set({ ...user.auth, 'Idempotency-Key': key }).send({ title: 'Expiring' });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.id).not.toBe(first.body.id);
  });
});
