import { createServer, Server, Socket } from 'node:net';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { databaseUrl, DB_PREFIX, prepareWorkerDatabase, TEMPLATE_DB, withAdmin } from './support/database';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai-server';
import { parseSse, streamPost } from './support/sse';
import { registerUser, TestUser } from './support/users';

/**
 * The database going away mid-life: the app reaches PostgreSQL through a TCP relay the test controls, then the
 * relay is shut (every connection dropped, new ones refused). Answers must be quick 503 problems (never a 500, a 401
 * or a hang), streams never end silently, answers finished meanwhile are stored once it is back, and service resumes.
 */
describe('database outage', () => {
  const KEY = 'sk-outage';
  let fake: FakeOpenAi;
  let t: TestApp;
  let alice: TestUser;
  let directUrl: string;
  let relay: Server;
  const sockets = new Set<Socket>();
  let relayPort = 0;

  const openRelay = () =>
    new Promise<void>((resolve) => {
      relay = createServer((client) => {
        const upstream = new Socket();
        upstream.connect(5432, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      relay.listen(relayPort, '127.0.0.1', () => {
        relayPort = (relay.address() as { port: number }).port;
        resolve();
      });
    });
  const shutRelay = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      relay.close(() => resolve());
    });

  beforeAll(async () => {
    fake = await startFakeOpenAi({ apiKey: KEY });
    directUrl = await prepareWorkerDatabase();
    const direct = new URL(directUrl);
    await openRelay();
    direct.port = String(relayPort);
    t = await startApp({ DATABASE_URL: direct.toString(), OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: KEY });
    alice = await registerUser(t.url);
  });
  afterAll(async () => {
    if (!relay.listening) await openRelay();
    await t.close();
    await shutRelay();
    await fake.close();
  });

  it('answers 503 problems while the database is unreachable, then recovers', async () => {
    await request(t.url).get('/v1/users/me').set(alice.auth).expect(200);
    await shutRelay();

    const started = Date.now();
    for (const call of [
      request(t.url).get('/v1/users/me').set(alice.auth),
      request(t.url).get('/v1/chat/sessions').set(alice.auth),
      request(t.url).post('/v1/auth/login').send({ email: alice.email, password: 'correct horse battery' }),
    ]) {
      const res = await call;
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toMatch(/database/i);
    }
    expect(Date.now() - started).toBeLessThan(15_000);
    const ready = await request(t.url).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.database).toBe('down');

    await openRelay();
    await request(t.url).get('/v1/users/me').set(alice.auth).expect(200);
    await request(t.url).get('/health/ready').expect(200);
  });

  it('cut mid-answer: every stream ends with done or error + [DONE], no 500; each answer is stored once when it is back', async () => {
    const pieces = Array.from({ length: 25 }, (_, i) => `w${i} `);
    fake.script({ pieces, delayMs: 40 });
    const senders = 6;
    const bodies: string[] = Array.from({ length: senders }, () => '');
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Keep going.' }], stream_format: 'events' };
    const streams = bodies.map((_, i) =>
      streamPost(t.url, '/v1/chat/stream', ask, alice.auth, (soFar) => {
        bodies[i] = soFar;
      }),
    );
    while (!bodies.every((b) => b.includes('event: delta'))) await new Promise((r) => setTimeout(r, 10));

    await shutRelay();
    // A send while the database is away is a 503 before any byte, not a 500.
    const refused = await request(t.url).post('/v1/chat/stream').set(alice.auth).send({ ...ask, stream: false });
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    // The answers finish while it is away (the provider needs no database); their stores fail and are retried.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(bodies.some((b) => b.includes('data: [DONE]'))).toBe(false); // nobody is told "done" before it is stored
    await openRelay();
    const results = await Promise.all(streams);

    const acknowledged = new Map<number, string>();
    for (const result of results) {
      expect(result.status).toBe(200);
      const events = parseSse(result.body);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const last = events[events.length - 2];
      expect(['done', 'error']).toContain(last.event);
      if (last.event === 'error') expect(JSON.parse(last.data).status).toBe(503);
      const text = events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text as string).join('');
      const start = JSON.parse(events.find((e) => e.event === 'start')!.data) as { message_id: number };
      if (last.event === 'done') acknowledged.set(start.message_id, text);
    }
    expect(acknowledged.size).toBe(senders); // the outage was shorter than streams.persist_retry_ms

    await withAdmin(async (db) => {
      const answers = await db.query<{ id: number; status: string; content: string; tokens_output: number; session_tokens: string; owner_instance: string | null }>(
        `SELECT m.id, m.status, m.content, m.tokens_output, s.tokens_output AS session_tokens, m.owner_instance
           FROM messages m JOIN chat_sessions s ON s.id = m.session_id WHERE m.id = ANY($1)`,
        [[...acknowledged.keys()]],
      );
      expect(answers.rows).toHaveLength(senders);
      for (const row of answers.rows) {
        expect(row).toMatchObject({ status: 'complete', content: acknowledged.get(row.id), owner_instance: null });
        // One answer per session: the session's totals hold its usage once.
        expect(Number(row.session_tokens)).toBe(row.tokens_output);
      }
      const ledger = await db.query<{ requests: string }>(
        `SELECT COALESCE(sum(requests), 0) AS requests FROM usage_daily WHERE user_id = $1 AND purpose = 'answer'`,
        [alice.id],
      );
      expect(Number(ledger.rows[0].requests)).toBe(senders);
    }, directUrl);
  }, 60_000);
});

/**
 * The app's database dropped under it (`DROP DATABASE … WITH (FORCE)` ends its connections, and every new one is
 * refused with SQLSTATE 3D000): answers are 503 problems naming the database, never a 500, and readiness says so.
 * Once a database of that name exists again the app answers from it, without a restart.
 */
describe('database dropped while the app runs', () => {
  const name = `${DB_PREFIX}_dropped_w${process.env.JEST_WORKER_ID ?? '1'}`;
  const create = () => withAdmin((pg) => pg.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DB}"`));
  const drop = () => withAdmin((pg) => pg.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  let t: TestApp;
  let alice: TestUser;

  beforeAll(async () => {
    await drop();
    await create();
    t = await startApp({ DATABASE_URL: databaseUrl(name) });
    alice = await registerUser(t.url);
  });
  afterAll(async () => {
    await t.close();
    await drop();
  });

  it('answers 503 problems (not 500) while the database does not exist, and works once it exists again', async () => {
    await request(t.url).get('/v1/chat/sessions').set(alice.auth).expect(200);
    await drop();

    for (const call of [
      request(t.url).get('/v1/users/me').set(alice.auth),
      request(t.url).get('/v1/chat/sessions').set(alice.auth),
      request(t.url).post('/v1/chat/stream').set(alice.auth).send({ stream: false, messages: [{ role: 'user', content: 'hi' }] }),
      request(t.url).post('/v1/auth/login').send({ email: alice.email, password: 'correct horse battery' }),
      request(t.url).post('/v1/auth/register').send({ email: 'after-drop@example.com', password: 'correct horse battery' }),
    ]) {
      const res = await call;
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.detail).toMatch(/database/i);
    }
    const ready = await request(t.url).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.database).toBe('down');

    await create();
    await request(t.url).get('/health/ready').expect(200);
    const bob = await registerUser(t.url);
    await request(t.url).get('/v1/chat/sessions').set(bob.auth).expect(200);
  });
});
