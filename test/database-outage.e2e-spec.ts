import { createServer, Server, Socket } from 'node:net';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { databaseUrl, DB_PREFIX, prepareWorkerDatabase, TEMPLATE_DB, withAdmin } from './support/database';
import { registerUser, TestUser } from './support/users';

/**
 * The database going away mid-life: the app reaches PostgreSQL through a TCP relay the test controls, then the
 * relay is shut. Answers must be quick 503 problems (never a 500, a 401 or a hang), and service resumes when the
 * database is back.
 */
describe('database outage', () => {
  let t: TestApp;
  let alice: TestUser;
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
    const direct = new URL(await prepareWorkerDatabase());
    await openRelay();
    direct.port = String(relayPort);
    t = await startApp({ DATABASE_URL: direct.toString() });
    alice = await registerUser(t.url);
  });
  afterAll(async () => {
    if (!relay.listening) await openRelay();
    await t.close();
    await shutRelay();
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
